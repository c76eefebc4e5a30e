// Package keyring stores member signing keys (ed25519) and encryption
// identities (age X25519, type "age-x25519") in a directory, one JSON file
// per key. Backend "file" encrypts each private key with a passphrase
// (argon2id key derivation, XChaCha20-Poly1305); backend "test" stores keys
// unencrypted and is meant for development chains and tests only.
package keyring

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"filippo.io/age"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger"
)

// Backends.
const (
	BackendFile = "file"
	BackendTest = "test"
)

// Argon2id parameters for new files (RFC 9106 second recommended option).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 4
)

// ErrNotFound is returned for a key name that is not in the keyring.
var ErrNotFound = errors.New("key not found")

// Passphrase supplies a passphrase; confirm asks for it twice (new keys).
type Passphrase func(prompt string, confirm bool) (string, error)

// Keyring is a directory of key files.
type Keyring struct {
	dir     string
	backend string
	pass    Passphrase
}

// Info is the public part of a key.
type Info struct {
	Name   string `json:"name"`
	Member string `json:"member"`
	KeyID  string `json:"key_id"`
	PubKey string `json:"pub_key"` // hex; empty for an encryption identity
	Type   string `json:"type"`    // "ed25519" or "age-x25519"
	// AgeRecipient is an encryption identity's public part ("age1...").
	AgeRecipient string `json:"age_recipient,omitempty"`
}

// Key types.
const (
	TypeSigning    = "ed25519"
	TypeEncryption = "age-x25519"
)

type cipherParams struct {
	KDF        string `json:"kdf"`
	Salt       string `json:"salt"`
	Time       uint32 `json:"time"`
	MemoryKiB  uint32 `json:"memory_kib"`
	Threads    uint8  `json:"threads"`
	Cipher     string `json:"cipher"`
	Nonce      string `json:"nonce"`
	Ciphertext string `json:"ciphertext"`
}

type file struct {
	Info
	Backend    string        `json:"backend"`
	PrivateKey string        `json:"private_key,omitempty"` // hex, test backend only
	Crypto     *cipherParams `json:"crypto,omitempty"`
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

// Open opens the keyring in dir with the given backend.
func Open(dir, backend string, pass Passphrase) (*Keyring, error) {
	if backend != BackendFile && backend != BackendTest {
		return nil, fmt.Errorf("keyring backend %q: want %q or %q", backend, BackendFile, BackendTest)
	}
	return &Keyring{dir: dir, backend: backend, pass: pass}, nil
}

func (k *Keyring) path(name string) string { return filepath.Join(k.dir, name+".key.json") }

// Add stores key under name for member. It refuses to overwrite.
func (k *Keyring) Add(name, member string, key ed25519.PrivKey) (Info, error) {
	if !nameRE.MatchString(name) {
		return Info{}, fmt.Errorf("key name %q: use letters, digits, '.', '_' or '-'", name)
	}
	if _, err := os.Stat(k.path(name)); err == nil {
		return Info{}, fmt.Errorf("key %q already exists", name)
	}
	f, err := k.seal(name, member, key, k.backend, "")
	if err != nil {
		return Info{}, err
	}
	return f.Info, k.write(name, f)
}

// AddEncryption generates an age X25519 identity under name for member
// (the private key never leaves the keyring unless exported). The
// recipient it returns is what a vote registers (add_key age_recipient).
func (k *Keyring) AddEncryption(name, member string) (Info, error) {
	if !nameRE.MatchString(name) {
		return Info{}, fmt.Errorf("key name %q: use letters, digits, '.', '_' or '-'", name)
	}
	if _, err := os.Stat(k.path(name)); err == nil {
		return Info{}, fmt.Errorf("key %q already exists", name)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return Info{}, err
	}
	return k.AddIdentity(name, member, id)
}

// AddIdentity stores an existing age identity under name for member.
func (k *Keyring) AddIdentity(name, member string, id *age.X25519Identity) (Info, error) {
	if !nameRE.MatchString(name) {
		return Info{}, fmt.Errorf("key name %q: use letters, digits, '.', '_' or '-'", name)
	}
	if _, err := os.Stat(k.path(name)); err == nil {
		return Info{}, fmt.Errorf("key %q already exists", name)
	}
	f, err := k.sealSecret(encryptionInfo(name, member, id), []byte(id.String()), k.backend, "")
	if err != nil {
		return Info{}, err
	}
	return f.Info, k.write(name, f)
}

func encryptionInfo(name, member string, id *age.X25519Identity) Info {
	r := id.Recipient().String()
	return Info{Name: name, Member: member, KeyID: ledger.EncryptionKeyID(r), Type: TypeEncryption, AgeRecipient: r}
}

// Identity unlocks an encryption identity.
func (k *Keyring) Identity(name string) (*age.X25519Identity, error) {
	f, err := k.read(name)
	if err != nil {
		return nil, err
	}
	if f.Type != TypeEncryption {
		return nil, fmt.Errorf("key %q is a %s signing key, not an encryption identity", name, f.Type)
	}
	raw, err := k.unlockRaw(f, "")
	if err != nil {
		return nil, err
	}
	return parseIdentity(f, raw)
}

func parseIdentity(f *file, raw []byte) (*age.X25519Identity, error) {
	id, err := age.ParseX25519Identity(string(raw))
	if err != nil {
		return nil, fmt.Errorf("key %q: corrupt age identity: %w", f.Name, err)
	}
	if id.Recipient().String() != f.AgeRecipient {
		return nil, fmt.Errorf("key %q: identity does not match its recipient", f.Name)
	}
	return id, nil
}

func (k *Keyring) seal(name, member string, key ed25519.PrivKey, backend, passphrase string) (*file, error) {
	pub := key.PubKey().Bytes()
	return k.sealSecret(Info{Name: name, Member: member, KeyID: ledger.KeyID(pub), PubKey: hex.EncodeToString(pub), Type: TypeSigning}, key, backend, passphrase)
}

func (k *Keyring) sealSecret(info Info, secret []byte, backend, passphrase string) (*file, error) {
	name := info.Name
	f := &file{Info: info, Backend: backend}
	if backend == BackendTest {
		f.PrivateKey = hex.EncodeToString(secret)
		return f, nil
	}
	if passphrase == "" {
		if k.pass == nil {
			return nil, errors.New("a passphrase is required for the file keyring")
		}
		p, err := k.pass(fmt.Sprintf("Passphrase to encrypt key %q: ", name), true)
		if err != nil {
			return nil, err
		}
		passphrase = p
	}
	if len(passphrase) < 8 {
		return nil, errors.New("passphrase must be at least 8 characters")
	}
	c, err := encrypt(secret, passphrase)
	if err != nil {
		return nil, err
	}
	f.Crypto = c
	return f, nil
}

func encrypt(secret []byte, passphrase string) (*cipherParams, error) {
	salt := make([]byte, 16)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	dk := argon2.IDKey([]byte(passphrase), salt, argonTime, argonMemory, argonThreads, chacha20poly1305.KeySize)
	aead, err := chacha20poly1305.NewX(dk)
	if err != nil {
		return nil, err
	}
	ct := aead.Seal(nil, nonce, secret, []byte("normledger-key-v1"))
	return &cipherParams{KDF: "argon2id", Salt: hex.EncodeToString(salt), Time: argonTime, MemoryKiB: argonMemory,
		Threads: argonThreads, Cipher: "xchacha20poly1305", Nonce: hex.EncodeToString(nonce), Ciphertext: hex.EncodeToString(ct)}, nil
}

func decrypt(c *cipherParams, passphrase string) ([]byte, error) {
	if c.KDF != "argon2id" || c.Cipher != "xchacha20poly1305" {
		return nil, fmt.Errorf("unsupported key encryption %s/%s", c.KDF, c.Cipher)
	}
	salt, err1 := hex.DecodeString(c.Salt)
	nonce, err2 := hex.DecodeString(c.Nonce)
	ct, err3 := hex.DecodeString(c.Ciphertext)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("corrupt key file: %w", err)
	}
	if c.MemoryKiB > 4<<20 || c.Time > 64 {
		return nil, errors.New("key file asks for unreasonable argon2 parameters")
	}
	dk := argon2.IDKey([]byte(passphrase), salt, c.Time, c.MemoryKiB, c.Threads, chacha20poly1305.KeySize)
	aead, err := chacha20poly1305.NewX(dk)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, nonce, ct, []byte("normledger-key-v1"))
	if err != nil {
		return nil, errors.New("wrong passphrase or corrupt key file")
	}
	return pt, nil
}

func (k *Keyring) write(name string, f *file) error {
	if err := os.MkdirAll(k.dir, 0o700); err != nil {
		return err
	}
	bz, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(k.path(name), append(bz, '\n'), 0o600)
}

func (k *Keyring) read(name string) (*file, error) {
	bz, err := os.ReadFile(k.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q (see `normledger keys list`)", ErrNotFound, name)
	}
	if err != nil {
		return nil, err
	}
	f := new(file)
	if err := json.Unmarshal(bz, f); err != nil {
		return nil, fmt.Errorf("key file %s: %w", k.path(name), err)
	}
	return f, nil
}

// Show returns the public part of a key.
func (k *Keyring) Show(name string) (Info, error) {
	f, err := k.read(name)
	if err != nil {
		return Info{}, err
	}
	return f.Info, nil
}

// List returns all keys sorted by name.
func (k *Keyring) List() ([]Info, error) {
	ents, err := os.ReadDir(k.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".key.json")
		if !ok {
			continue
		}
		f, err := k.read(n)
		if err != nil {
			return nil, err
		}
		out = append(out, f.Info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Signer unlocks a key for signing.
func (k *Keyring) Signer(name string) (ledger.Signer, error) {
	f, err := k.read(name)
	if err != nil {
		return ledger.Signer{}, err
	}
	priv, err := k.unlock(f, "")
	if err != nil {
		return ledger.Signer{}, err
	}
	return ledger.Signer{Member: f.Member, Key: priv}, nil
}

func (k *Keyring) unlock(f *file, passphrase string) (ed25519.PrivKey, error) {
	if f.Type == TypeEncryption {
		return nil, fmt.Errorf("key %q is an encryption identity: it decrypts sealed records and signs nothing", f.Name)
	}
	raw, err := k.unlockRaw(f, passphrase)
	if err != nil {
		return nil, err
	}
	if len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("key %q: private key is %d bytes", f.Name, len(raw))
	}
	priv := ed25519.PrivKey(raw)
	if hex.EncodeToString(priv.PubKey().Bytes()) != f.PubKey {
		return nil, fmt.Errorf("key %q: private key does not match its public key", f.Name)
	}
	return priv, nil
}

func (k *Keyring) unlockRaw(f *file, passphrase string) ([]byte, error) {
	var raw []byte
	switch f.Backend {
	case BackendTest:
		b, err := hex.DecodeString(f.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("key %q: corrupt private key: %w", f.Name, err)
		}
		raw = b
	case BackendFile:
		if f.Crypto == nil {
			return nil, fmt.Errorf("key %q: no encrypted key in file", f.Name)
		}
		if passphrase == "" {
			if k.pass == nil {
				return nil, fmt.Errorf("key %q is encrypted and no passphrase source is set", f.Name)
			}
			p, err := k.pass(fmt.Sprintf("Passphrase for key %q: ", f.Name), false)
			if err != nil {
				return nil, err
			}
			passphrase = p
		}
		b, err := decrypt(f.Crypto, passphrase)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", f.Name, err)
		}
		raw = b
	default:
		return nil, fmt.Errorf("key %q: unknown backend %q", f.Name, f.Backend)
	}
	return raw, nil
}

// Export returns the key encrypted with exportPass, whatever this keyring's
// backend, as a JSON document that Import accepts.
func (k *Keyring) Export(name, exportPass string) ([]byte, error) {
	f, err := k.read(name)
	if err != nil {
		return nil, err
	}
	raw, err := k.unlockRaw(f, "")
	if err != nil {
		return nil, err
	}
	if f.Type == TypeEncryption {
		if _, err := parseIdentity(f, raw); err != nil {
			return nil, err
		}
	} else if _, err := k.unlock(f, ""); err != nil {
		return nil, err
	}
	out, err := k.sealSecret(f.Info, raw, BackendFile, exportPass)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(out, "", "  ")
}

// AgeIdentity returns an encryption identity in age's own format
// ("AGE-SECRET-KEY-1..."), the file the stock `age -d -i FILE` reads.
func (k *Keyring) AgeIdentity(name string) (string, error) {
	id, err := k.Identity(name)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// Import adds an exported key under name, decrypting it with importPass and
// storing it with this keyring's backend.
func (k *Keyring) Import(name string, data []byte, importPass string) (Info, error) {
	f := new(file)
	if err := json.Unmarshal(data, f); err != nil {
		return Info{}, fmt.Errorf("not an exported key: %w", err)
	}
	if f.Crypto == nil {
		return Info{}, errors.New("exported key is not encrypted; refusing to import plaintext keys")
	}
	f.Backend = BackendFile
	if f.Type == TypeEncryption {
		raw, err := k.unlockRaw(f, importPass)
		if err != nil {
			return Info{}, err
		}
		id, err := parseIdentity(f, raw)
		if err != nil {
			return Info{}, err
		}
		return k.AddIdentity(name, f.Member, id)
	}
	priv, err := k.unlock(f, importPass)
	if err != nil {
		return Info{}, err
	}
	return k.Add(name, f.Member, priv)
}
