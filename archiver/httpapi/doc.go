// Package httpapi is the HTTP API of `chatvault serve`: compliance officers and
// e-discovery tools fetch their organization's sealed days with a bearer token.
//
// Identity travels in the request context, set by one authenticate middleware; one
// function (Server.Error) maps errors to statuses and error codes, and only internal
// errors are logged, never shown. The contract is in openapi.json, served at /openapi.json.
package httpapi
