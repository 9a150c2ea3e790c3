package keystore_test

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/xtokend/xtokend/keystore"
)

// A host's keystore with a RAM key and an env key. In the server the
// options come from [modules.mod_keystore] and the environment is the
// process's; here it is a map.
func ExampleNew() {
	opts := keystore.Options{
		RAMKeySize: 32,
		Keys: []keystore.KeySpec{
			{Name: "access_secret", Type: keystore.TypeRAM},
			{Name: "otp_seed", Type: keystore.TypeEnv, Var: "FIRST_OTP_SEED", Encoding: keystore.EncodingBase32},
		},
	}
	env := map[string]string{"FIRST_OTP_SEED": "xvgr73kmzh2m4xmy\n"}
	store, warnings, err := keystore.New("first.com", opts, "/etc/xtokend", func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range warnings {
		slog.Warn(w.String())
	}
	for _, k := range store.List() {
		fmt.Println(k.Name, k.Type, k.Size)
	}
	_, err = store.Key("provision_psk")
	fmt.Println(err)
	// Output:
	// access_secret ram 32
	// otp_seed env 10
	// keystore: host "first.com": mod_keystore: key "provision_psk": no such key
}

// Keys print as [redacted], whatever the verb or the logger.
func ExampleKey() {
	store, _ := keystore.NewStatic("first.com", map[string][]byte{"access_secret": []byte("hunter2")})
	k, _ := store.Get("access_secret")
	fmt.Printf("%v %s %x %q %#v, %d bytes\n", k, k, k, k, k, k.Len())
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	logger.Info("loaded", "key", k)
	// Output:
	// [redacted] [redacted] [redacted] [redacted] [redacted], 7 bytes
	// level=INFO msg=loaded key=[redacted]
}
