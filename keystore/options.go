package keystore

// KeySpec is one entry of mod_keystore's keys list:
// { name = "access_secret", type = "file", path = "priv/x", encoding = "base32" }.
type KeySpec struct {
	Name     string `toml:"name"`
	Type     string `toml:"type"`     // "ram", "file" or "env"
	Path     string `toml:"path"`     // type "file": relative to the config file's folder
	Var      string `toml:"var"`      // type "env": the variable's name
	Encoding string `toml:"encoding"` // "raw" (default), "base32", "base64", "hex"
}

// Options are mod_keystore's options for one host.
type Options struct {
	RAMKeySize int       `toml:"ram_key_size"` // bytes for keys of type "ram"
	Keys       []KeySpec `toml:"keys"`
}

// DefaultOptions are the options of a host that configures nothing:
// two RAM keys, access_secret and otp_seed, of 2048 bytes.
func DefaultOptions() Options {
	return Options{
		RAMKeySize: 2048,
		Keys: []KeySpec{
			{Name: "access_secret", Type: "ram"},
			{Name: "otp_seed", Type: "ram"},
		},
	}
}
