package attack

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A small JSON scanner for response checks. Checks run on every response,
// so they must not decode whole documents: this walks the bytes along the
// path, skips what it does not need without allocating, and counts array
// items in place.

var errNotJSON = errors.New("body is not JSON")

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, errNotJSON
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return 0, errNotJSON
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				j, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = j - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, errNotJSON
	case c == 't' || c == 'f' || c == 'n' || c == '-' || (c >= '0' && c <= '9'):
		j := i
		for j < len(b) && bytes.IndexByte([]byte(",]} \t\r\n"), b[j]) < 0 {
			j++
		}
		return j, nil
	}
	return 0, errNotJSON
}

// jsonPath returns the value at a dotted path ("predictions.0.id"), nil
// when the path does not exist.
func jsonPath(doc []byte, path string) ([]byte, error) {
	i := skipSpace(doc, 0)
	end, err := skipValue(doc, i)
	if err != nil || skipSpace(doc, end) != len(doc) {
		return nil, errNotJSON
	}
	cur := doc[i:end]
	for _, part := range strings.Split(path, ".") {
		var next []byte
		switch cur[0] {
		case '{':
			j := skipSpace(cur, 1)
			for j < len(cur) && cur[j] != '}' {
				if cur[j] != '"' {
					return nil, errNotJSON
				}
				k, err := skipString(cur, j)
				if err != nil {
					return nil, err
				}
				key := cur[j:k]
				j = skipSpace(cur, k)
				if j >= len(cur) || cur[j] != ':' {
					return nil, errNotJSON
				}
				vs := skipSpace(cur, j+1)
				ve, err := skipValue(cur, vs)
				if err != nil {
					return nil, err
				}
				// The last of duplicate keys wins, as in encoding/json.
				if keyIs(key, part) {
					next = cur[vs:ve]
				}
				j = skipSpace(cur, ve)
				if j < len(cur) && cur[j] == ',' {
					j = skipSpace(cur, j+1)
				}
			}
		case '[':
			n, err := strconv.Atoi(part)
			if err != nil || n < 0 || strconv.Itoa(n) != part {
				return nil, nil
			}
			idx := 0
			err = eachItem(cur, func(v []byte) bool {
				if idx == n {
					next = v
					return false
				}
				idx++
				return true
			})
			if err != nil {
				return nil, err
			}
		}
		if next == nil {
			return nil, nil
		}
		cur = next
	}
	return cur, nil
}

// keyIs reports whether the quoted object key q names part. Plain keys
// compare in place; a key with escapes or bytes that are not UTF-8 is
// decoded first, as encoding/json would decode it.
func keyIs(q []byte, part string) bool {
	raw := q[1 : len(q)-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw) == part
	}
	var key string
	if json.Unmarshal(q, &key) != nil {
		return false
	}
	return key == part
}

// eachItem calls f with each item of the array arr until f returns false.
func eachItem(arr []byte, f func([]byte) bool) error {
	j := skipSpace(arr, 1)
	for j < len(arr) && arr[j] != ']' {
		e, err := skipValue(arr, j)
		if err != nil {
			return err
		}
		if !f(arr[j:e]) {
			return nil
		}
		j = skipSpace(arr, e)
		if j < len(arr) && arr[j] == ',' {
			j = skipSpace(arr, j+1)
		}
	}
	return nil
}

// countItems returns the length of a JSON array, or -1 if v is not one.
func countItems(v []byte) int {
	if len(v) == 0 || v[0] != '[' {
		return -1
	}
	n := 0
	if eachItem(v, func([]byte) bool { n++; return true }) != nil {
		return -1
	}
	return n
}
