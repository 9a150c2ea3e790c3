// Package keystore holds the named keys of one virtual host, as MongooseIM's
// mod_keystore does, and hands them out as bytes. It knows nothing of XMPP:
// the X-TOKEN verifier asks it for "access_secret" and "otp_seed" through the
// small sasl.Keys interface, which *Store satisfies.
//
// A key has a name, unique within its host, and a type that says where its
// bytes come from:
//
//   - "ram": ram_key_size bytes from crypto/rand, made when the store is built
//     and never written anywhere. Every host gets its own.
//   - "file": the bytes of a file; a relative path is taken from the config
//     file's folder.
//   - "env": the value of an environment variable.
//
// File and env values are trimmed of surrounding ASCII whitespace (a file
// written by an editor ends in a newline), then decoded by the key's encoding:
// "raw" (the default: the bytes as they are), "base32" (RFC 4648, with or
// without padding, any case: what pyotp.random_base32 prints), "base64"
// (standard or URL alphabet, with or without padding) or "hex".
//
// Keys are secrets, so the package is careful with them: Store.Key returns a
// copy, the Key type prints as [redacted] through fmt and log/slog, and no
// error or warning this package makes ever holds a key's bytes or a piece of
// them. Errors are one line that names the host, the module (mod_keystore),
// the key and the file or variable involved, so a start-up failure points at
// the culprit:
//
//	keystore: host "first.com": mod_keystore: key "otp_seed": file "/etc/xtokend/priv/first_otp_seed": open: no such file or directory
//
// Store.Reload re-reads the file and env keys (the server does it on SIGHUP),
// keeps the RAM keys as they are, and swaps the new set in atomically: a
// lookup running during a reload sees the whole old set or the whole new one.
package keystore
