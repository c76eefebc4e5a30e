// Package seal is what the ledger checks of a sealed record's ciphertext
// without any private key, and how anyone opens it with a published file
// key. The ciphertext is a standard age v1 file (filippo.io/age; the stock
// `age` tool reads it): a header of recipient stanzas, each wrapping the
// same 16-byte file key to one recipient, a MAC over the header keyed by
// the file key, then the payload encrypted under a key derived from the
// file key. One file key authenticates the header, so every recipient that
// can decrypt reads the same payload.
//
// The package is deterministic (no randomness, clock or I/O): encrypting
// and decrypting with identities is the client's (package client).
package seal

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// StanzaType is the only recipient stanza a sealed record may carry: age's
// native X25519 recipient (one argument, the ephemeral share; a 32-byte
// body, the wrapped file key).
const StanzaType = "X25519"

// FileKeySize is the size of an age file key.
const FileKeySize = 16

// Errors Inspect and Open return (wrapped); the ledger maps each to its
// own result code.
var (
	// ErrHeader: the bytes are not an age v1 file (its header does not parse).
	ErrHeader = errors.New("not an age v1 file")
	// ErrStanza: a recipient stanza is not a well-formed X25519 stanza.
	ErrStanza = errors.New("recipient stanza is not X25519")
	// ErrFileKey: the file key does not authenticate the header.
	ErrFileKey = errors.New("the file key does not authenticate the header")
	// ErrPayload: the header authenticates but the payload does not decrypt.
	ErrPayload = errors.New("the payload does not decrypt under the file key")
)

// captured is returned by the inspecting identity to stop age after it has
// parsed the header and handed over the stanzas.
var captured = errors.New("stanzas captured")

type inspector struct{ stanzas []*age.Stanza }

func (i *inspector) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	i.stanzas = stanzas
	return nil, captured
}

// Stanzas parses ct's header and returns its recipient stanzas, checking
// each is an X25519 stanza. It needs no key and reads nothing past the
// header.
func Stanzas(ct []byte) ([]*age.Stanza, error) {
	in := &inspector{}
	_, err := age.Decrypt(bytes.NewReader(ct), in)
	if !errors.Is(err, captured) {
		if err == nil {
			err = errors.New("no error")
		}
		return nil, fmt.Errorf("%w: %v", ErrHeader, err)
	}
	for i, s := range in.stanzas {
		if s.Type != StanzaType {
			return nil, fmt.Errorf("%w: stanza %d is %q", ErrStanza, i+1, s.Type)
		}
		if len(s.Args) != 1 || len(s.Body) != 32 {
			return nil, fmt.Errorf("%w: stanza %d has %d arguments and a %d-byte body (want 1 and 32)", ErrStanza, i+1, len(s.Args), len(s.Body))
		}
	}
	return in.stanzas, nil
}

// Open decrypts ct with a file key (one a recipient published): ErrFileKey
// if the key does not authenticate the header, ErrPayload if the payload
// does not decrypt. A file key that opens the header is the only one that
// can: opening with it is what every recipient's decryption does.
func Open(ct, fileKey []byte) ([]byte, error) {
	if len(fileKey) != FileKeySize {
		return nil, fmt.Errorf("%w: a file key is %d bytes, got %d", ErrFileKey, FileKeySize, len(fileKey))
	}
	hdr, err := age.ExtractHeader(bytes.NewReader(ct))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHeader, err)
	}
	id := age.NewInjectedFileKeyIdentity(fileKey)
	if _, err := age.DecryptHeader(hdr, id); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFileKey, err)
	}
	r, err := age.Decrypt(bytes.NewReader(ct), id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPayload, err)
	}
	pt, err := io.ReadAll(io.LimitReader(r, int64(len(ct))))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPayload, err)
	}
	return pt, nil
}
