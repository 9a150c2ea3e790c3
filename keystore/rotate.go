package keystore

import "fmt"

// A file or env key rotates in three steps, each an edit of the
// configuration and a reload (SIGHUP), and no token stops verifying on the
// way:
//
//  1. accept = ["next"]: the store learns the next version; tokens are still
//     signed with the current one, and both verify.
//  2. path = "next", accept = ["current"]: the next version signs; tokens
//     signed with the old one (an application that has not switched yet, a
//     token minted a moment ago) still verify.
//  3. accept dropped, one token lifetime later: the old version is gone.
//
// Store.Versions hands out the key in force first, then the accepted
// versions in configuration order.

// validateAccept checks KeySpec.Accept statically: only file and env keys
// take it, and every entry is a distinct, non-empty path or variable other
// than the key's own. e names the key; its Reason is filled in on failure.
func (k KeySpec) validateAccept(e *Error) error {
	if len(k.Accept) == 0 {
		return nil
	}
	own := k.Path
	what := "path"
	switch k.Type {
	case TypeFile:
	case TypeEnv:
		own, what = k.Var, "variable"
	default:
		e.Reason = "only file and env keys take accept (a ram key rotates with POST /v1/hosts/{host}/rotate)"
		return e
	}
	seen := map[string]bool{own: true}
	for i, a := range k.Accept {
		switch {
		case a == "":
			e.Reason = fmt.Sprintf("accept[%d] is empty: want a %s", i, what)
			return e
		case seen[a]:
			e.Reason = fmt.Sprintf("accept[%d] %q is named twice (the key's own %s counts)", i, a, what)
			return e
		}
		seen[a] = true
	}
	return nil
}

// acceptSpec is the spec of the i-th accepted version: the key's own spec
// with the accepted path or variable in place of its own, so that it is
// read, trimmed and decoded the same way and its errors name it.
func (k KeySpec) acceptSpec(i int) KeySpec {
	v := KeySpec{Name: k.Name, Type: k.Type, Encoding: k.Encoding}
	if k.Type == TypeFile {
		v.Path = k.Accept[i]
	} else {
		v.Var = k.Accept[i]
	}
	return v
}

// loadAccepted reads the accepted versions of a file or env key and fills in
// where each comes from. A version that is missing or does not decode fails
// the whole build, like the key itself: a reload that would silently accept
// less than the configuration says is refused.
func (src source) loadAccepted(spec KeySpec, info *KeyInfo) ([]Key, []Warning, error) {
	var (
		keys  []Key
		warns []Warning
	)
	for i := range spec.Accept {
		v := spec.acceptSpec(i)
		k, w, err := src.load(v) // its error names the accepted file or variable
		if err != nil {
			return nil, nil, err
		}
		if w != nil {
			warns = append(warns, *w)
		}
		keys = append(keys, k)
		if spec.Type == TypeFile {
			info.Accept = append(info.Accept, src.abs(v.Path))
		} else {
			info.Accept = append(info.Accept, v.Var)
		}
	}
	return keys, warns, nil
}

// Versions returns copies of every version of the named key that verifies:
// the one in force (what Key returns, what tokens are signed with) first,
// then those its spec accepts. It satisfies sasl.VersionedKeys.
func (s *Store) Versions(name string) ([][]byte, error) {
	set := s.current()
	k, ok := set.keys[name]
	if !ok {
		return nil, &Error{Host: s.host, Key: name, Reason: noSuchKey}
	}
	out := [][]byte{k.Bytes()}
	for _, a := range set.accepted[name] {
		out = append(out, a.Bytes())
	}
	return out, nil
}
