//go:build !unix

package keystore_test

import "errors"

func syscallMkfifo(string) error { return errors.New("not unix") }
