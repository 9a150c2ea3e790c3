// Package testkit holds what xtokend's tests in several packages share: a log
// buffer that a running server and the test may use at once, and self-signed
// certificates for STARTTLS. It is for tests only; nothing the server ships
// imports it.
package testkit
