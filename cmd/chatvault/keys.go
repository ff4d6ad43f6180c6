package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "keys",
		summary: "manage the Ed25519 signing key: generate, public, rotate",
		usage: "generate -o FILE\n" +
			"       chatvault keys public [--key FILE]\n" +
			"       chatvault keys rotate --new-key FILE [--key FILE] [--reason TEXT] [--retain-days N]",
		flags: func(fs *pflag.FlagSet) {
			fs.StringP("output", "o", "", "generate: write the private key to FILE (created, never replaced, mode 0600)")
			fs.String("key", "", "public, rotate: the private key (default signing.keyFile)")
			fs.String("new-key", "", "rotate: the new private key, which signs from now on")
			fs.String("reason", "", "rotate: why the key changes, recorded in the statement")
			fs.Bool("despite-later-dates", false, "rotate: record the statement even though the old key signed objects dated after this host's clock (a stolen key's forgeries dated ahead); verify then reports them as signed after the rotation")
			fs.Int("retain-days", 3653, "rotate: days the statement is locked for on an S3 store with Object Lock (at least as long as the longest-kept manifest; 0: not locked)")
		},
		run:     runKeys,
		subArgs: true,
		args:    []string{"generate", "public", "rotate"},
	})
}

func runKeys(ctx context.Context, e *env, fs *pflag.FlagSet) int {
	if fs.NArg() != 1 {
		return e.fail("keys", usagef("want one of: generate, public, rotate"))
	}
	keyFile, _ := fs.GetString("key")
	if keyFile == "" {
		keyFile = e.cfg.Signing.KeyFile
	}
	switch fs.Arg(0) {
	case "generate":
		out, _ := fs.GetString("output")
		if out == "" {
			return e.fail("keys", usagef("generate: -o FILE is required (the private key is never printed)"))
		}
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return e.fail("keys", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return e.fail("keys", err)
		}
		if err := writeNew(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			if errors.Is(err, os.ErrExist) {
				// A rerun of `keys generate -o K > K.pub`: the shell has emptied K.pub already.
				err = fmt.Errorf("%s exists: a key is never replaced (it is kept as it was); "+
					"chatvault keys public --key %s prints its public key again", out, out)
			}
			return e.fail("keys", err)
		}
		e.note(slog.LevelInfo, fmt.Sprintf("wrote the private key to %s (key id %s); its public key follows on stdout", out, archiver.KeyID(pub)),
			"wrote the private key; its public key follows on stdout", "output", out, "keyId", archiver.KeyID(pub))
		if err := writePublic(e.stdout, pub); err != nil {
			// The key is whole in its file; a rerun would refuse it as existing.
			return e.fail("keys", fmt.Errorf("print the public key: %w; the private key is in %s: chatvault keys public --key %s prints its public key again", err, out, out))
		}
		return exitOK
	case "public":
		if keyFile == "" {
			return e.fail("keys", usagef("public: give --key FILE or set signing.keyFile"))
		}
		key, err := readPrivateKey(keyFile)
		if err != nil {
			return e.fail("keys", err)
		}
		pub := key.Public().(ed25519.PublicKey)
		e.note(slog.LevelInfo, "key id "+archiver.KeyID(pub), "public key", "keyId", archiver.KeyID(pub))
		return e.printPublic(pub)
	case "rotate":
		return runKeysRotate(ctx, e, fs, keyFile)
	}
	return e.fail("keys", usagef("unknown subcommand %q: want generate, public or rotate", fs.Arg(0)))
}

func runKeysRotate(ctx context.Context, e *env, fs *pflag.FlagSet, keyFile string) int {
	newFile, _ := fs.GetString("new-key")
	reason, _ := fs.GetString("reason")
	days, _ := fs.GetInt("retain-days")
	despite, _ := fs.GetBool("despite-later-dates")
	if keyFile == "" || newFile == "" {
		return e.fail("keys", usagef("rotate: give the old key (--key or signing.keyFile) and --new-key"))
	}
	if days < 0 {
		return e.fail("keys", usagef("rotate: --retain-days %d is negative", days))
	}
	from, err := readPrivateKey(keyFile)
	if err != nil {
		return e.fail("keys", err)
	}
	to, err := readPrivateKey(newFile)
	if err != nil {
		return e.fail("keys", err)
	}
	// The statement belongs in the store the chains are in: a mistyped folder must fail,
	// not get a new store holding a statement verify will never see.
	_, closeProbe, err := e.openStoreReadOnly()
	if err != nil {
		return e.fail("keys", err)
	}
	closeProbe()
	store, closeStore, err := e.openStore()
	if err != nil {
		return e.fail("keys", err)
	}
	defer closeStore()
	now := rotateClock()
	// A stolen key can sign objects dated ahead, and its owner must still be able to
	// retire it at once: --despite-later-dates records the statement now, and verify
	// reports those objects as what they then are, signed after the rotation.
	if err := checkRotationClock(ctx, store, from.Public().(ed25519.PublicKey), now); err != nil {
		if !despite {
			return e.fail("keys", err)
		}
		e.note(slog.LevelWarn, "warning: "+err.Error()+"; rotating anyway (--despite-later-dates): verify will report those objects as signed after the rotation",
			"rotating despite objects the old key signed dated after this host's clock", "err", err.Error())
	}
	var opt archiver.CreateOptions
	if days > 0 {
		opt.RetainUntil = now.AddDate(0, 0, days)
	}
	key, err := ledger.Ledger{Store: store}.RecordRotation(ctx, from, to, reason, now, opt)
	if err != nil {
		return e.fail("keys", err)
	}
	fmt.Fprintf(e.stdout, "recorded %s: signing passes from key %s to key %s\n", key,
		archiver.KeyID(from.Public().(ed25519.PublicKey)), archiver.KeyID(to.Public().(ed25519.PublicKey)))
	fmt.Fprintln(e.stdout, "now point signing.keyFile at the new key, and add its public key (chatvault keys public) to signing.publicKeyFile")
	return exitOK
}

// rotateClock is keys rotate's time, the statement's rotatedAt (tests set it).
var rotateClock = time.Now

// checkRotationClock refuses a rotation statement dated before what the old key has
// already signed. verify dates an accounting object by its sealedAt and an audit segment
// by its last record, and reports one signed by the old key more than
// archiver.RetiredSkew after the statement as signed after the rotation (RetiredAt), for
// good: the statement is create-only and made once. So a statement dated by a host whose
// clock is behind the hosts that sealed and served (a VM restored from a snapshot, an RTC
// reset, NTP not running yet) condemned genuine objects, and verify failed on them from
// then on. The newest such dates are at the chains' heads: each organization's last
// manifest (its seal's accounting object carries the same sealedAt) and its audit chain's
// last segment, a few reads per organization.
func checkRotationClock(ctx context.Context, store archiver.Store, from ed25519.PublicKey, now time.Time) error {
	id := archiver.KeyID(from)
	var newest time.Time
	var what string
	lg := ledger.Ledger{Store: store}
	err := lg.Orgs(ctx, func(org string) error {
		m, err := lg.Head(ctx, org)
		if err != nil || m == nil {
			return err
		}
		if signer, serr := archiver.SignerID(m.Signature); serr != nil || signer != id {
			return nil // another key's (or none): no date of it is judged against the statement
		}
		if at, perr := time.Parse(time.RFC3339Nano, m.SealedAt); perr == nil && at.After(newest) {
			newest, what = at, m.Key+" (sealedAt)"
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("keys rotate: read the chain heads: %w", err)
	}
	key, last, err := audit.NewestSignedBy(ctx, store, id, archiver.DayOf(now))
	if err != nil {
		return fmt.Errorf("keys rotate: read the audit chain heads: %w", err)
	}
	if last.After(newest) {
		newest, what = last, key+" (its last record)"
	}
	if !newest.After(now.Add(archiver.RetiredSkew)) {
		return nil
	}
	return fmt.Errorf("keys rotate: %s, signed by key %s, is dated %s, %s after this host's clock (%s): "+
		"a statement dated now would have verify report it as signed after the rotation, for good; "+
		"is this host's clock behind? set it right and rerun (if that date is the wrong one, made on a host whose clock ran ahead, rotate after %s; to retire a stolen key whose forgeries are dated ahead, rotate now with --despite-later-dates): %w",
		what, id, newest.UTC().Format(time.RFC3339), newest.Sub(now).Round(time.Second), now.UTC().Format(time.RFC3339),
		newest.Add(-archiver.RetiredSkew).UTC().Format(time.RFC3339), errRotationClock)
}

// errRotationClock is checkRotationClock's refusal.
var errRotationClock = errors.New("the rotation would be dated before objects the old key signed")

func (e *env) printPublic(pub ed25519.PublicKey) int {
	if err := writePublic(e.stdout, pub); err != nil {
		return e.fail("keys", err)
	}
	return exitOK
}

// writePublic writes pub to w as a PEM public key.
func writePublic(w io.Writer, pub ed25519.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	_, err = w.Write(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return err
}

// readPrivateKey reads an Ed25519 private key, PKCS #8 PEM.
func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := readSecret(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", path)
	}
	return key, nil
}

// readPublicKeys reads every Ed25519 public key (PEM "PUBLIC KEY" blocks) of path: after a
// rotation the file lists the old keys and the new one. A private key in it is refused:
// whoever verifies must not hold what signs.
func readPublicKeys(path string) ([]ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// A block that does not decode (a key cut short when pasted, an end line lost) is
	// skipped by pem.Decode: the keys around it would be trusted in silence, and what the
	// lost key signed reported as forged. Every block that begins must decode.
	begun := bytes.Count(b, []byte("-----BEGIN "))
	var keys []ed25519.PublicKey
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		begun--
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%s: a %q block: give public keys only (chatvault keys public prints one)", path, block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%s: not an Ed25519 public key", path)
		}
		keys = append(keys, pub)
	}
	if begun > 0 {
		return nil, fmt.Errorf("%s: %d PEM block(s) do not decode (a key cut short, or a line lost?): give the whole public keys", path, begun)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no PEM public key", path)
	}
	return keys, nil
}

// trustedKeys returns the public keys verify trusts: those of --public-key or
// signing.publicKeyFile (then the private key file is never read), else the public half of
// signing.keyFile, else none.
func (e *env) trustedKeys(flagFile string) ([]ed25519.PublicKey, error) {
	file, what := flagFile, "--public-key"
	if file == "" {
		file, what = e.cfg.Signing.PublicKeyFile, "signing.publicKeyFile"
	}
	if file != "" {
		keys, err := readPublicKeys(file)
		if err != nil {
			return nil, usagef("%s: %v", what, err)
		}
		return keys, nil
	}
	key, err := e.signingKey()
	if err != nil {
		return nil, fmt.Errorf("%w (verifying needs only the public key: give --public-key FILE or signing.publicKeyFile)", err)
	}
	if key == nil {
		return nil, nil
	}
	return []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, nil
}

// writeNew creates path with b, never replacing a file, and removes it on failure.
func writeNew(path string, b []byte, mode os.FileMode) error {
	// Under a hidden name until whole and synced (see output): a key file cut short by a
	// kill or a power cut kept its name, and a rerun refused to replace it.
	o, err := newOutput(path, mode, nil)
	if err != nil {
		return err
	}
	if _, err := o.Write(b); err != nil {
		return errors.Join(err, o.abort())
	}
	return o.commit()
}

// readSecret reads a file that signs (a signing key, the link key). One that every user of
// the host may read or write is refused, as ssh refuses such a private key: whoever reads
// it can forge what it signs. The owner and a group (fs.group, or Kubernetes' fsGroup,
// which makes mounted secrets 0440) may.
func readSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// A device is no key: --key /dev/stdin with standard input closed or from /dev/null
	// (Go opens /dev/null on a closed descriptor) was refused for its mode 0666 with the
	// advice to chmod 600 /dev/stdin, which as root makes /dev/null unusable to every
	// other user of the host. A pipe (cat key | chatvault … --key /dev/stdin) is read.
	if fi.Mode()&fs.ModeDevice != 0 {
		return nil, usagef("%s is a device, not a key file (standard input closed, or from /dev/null or a terminal?): give the key's file, or pipe it in", path)
	}
	if m := fi.Mode().Perm(); m&0o007 != 0 {
		return nil, usagef("%s: mode %04o lets every user of the host read or change this key: chmod 600 %s (or 640 for a group)", path, m, path)
	}
	return io.ReadAll(f)
}
