// Package deploy holds no code: its tests check the deployment files beside it (the S3
// lifecycle and bucket policy examples, the Dockerfile's build steps, the systemd units)
// the way an operator's tools would read them. The Kubernetes manifests are checked by the
// separate module in kubernetes/, which keeps Kubernetes' Go types out of chatvault's
// go.mod.
package deploy
