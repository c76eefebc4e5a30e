package monitor

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Webhook signing follows the Standard Webhooks specification
// (standardwebhooks.com, v1.0.0, symmetric scheme): every call carries
//
//	webhook-id:        the event's delivery id, the same on every retry
//	webhook-timestamp: the attempt's time, integer Unix seconds
//	webhook-signature: v1,<base64 HMAC-SHA256(key, id "." timestamp "." body)>
//
// with one space-separated v1 signature per secret (several during a key
// rotation). A secret is "whsec_" and the base64 of its key.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"

	// DefaultWebhookTolerance is how far a webhook's timestamp may be from
	// the receiver's clock, either way (the specification's suggestion).
	DefaultWebhookTolerance = 5 * time.Minute

	webhookSecretPrefix = "whsec_"
	// Key sizes the specification allows: 24 to 64 bytes.
	minWebhookKey, maxWebhookKey = 24, 64
)

// ErrWebhookUnverified wraps every reason VerifyWebhook refuses a call.
var ErrWebhookUnverified = errors.New("webhook not verified")

// ParseWebhookSecret decodes a "whsec_<base64>" secret into its HMAC key.
func ParseWebhookSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(secret), webhookSecretPrefix)
	if !ok {
		return nil, fmt.Errorf("a webhook secret is %s followed by the base64 of the key", webhookSecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: the part after %s is not standard base64: %v", webhookSecretPrefix, err)
	}
	if len(key) < minWebhookKey || len(key) > maxWebhookKey {
		return nil, fmt.Errorf("webhook secret: a %d-byte key; Standard Webhooks keys are %d to %d bytes", len(key), minWebhookKey, maxWebhookKey)
	}
	return key, nil
}

// ReadWebhookSecrets reads the secret file: one or more whsec_ secrets,
// separated by white space (a line each, say). Every call is signed with
// each of them; during a rotation the file holds the new secret and the
// old one, so that receivers holding either accept the calls. The file
// must not be writable by group or others nor readable by others (it may
// be group-readable, so that a service account can share it with the
// monitor's group).
func ReadWebhookSecrets(path string) ([][]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("webhook secret file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("webhook secret file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o026 != 0 {
		who := "others can read it"
		if perm&0o022 != 0 {
			who = "group or others can write it"
		}
		return nil, fmt.Errorf("webhook secret file %s has mode %04o (%s): chmod 600 (or 640) it", path, perm, who)
	}
	bz, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("webhook secret file: %w", err)
	}
	fields := strings.Fields(string(bz))
	if len(fields) == 0 {
		return nil, fmt.Errorf("webhook secret file %s is empty", path)
	}
	var keys [][]byte
	for i, f := range fields {
		k, err := ParseWebhookSecret(f)
		if err != nil {
			return nil, fmt.Errorf("webhook secret file %s, secret %d: %w", path, i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// webhookSignature is the webhook-signature header: a v1 signature with
// each key, space-separated.
func webhookSignature(keys [][]byte, id string, ts int64, body []byte) string {
	sigs := make([]string, len(keys))
	for i, k := range keys {
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(webhookMAC(k, id, ts, body))
	}
	return strings.Join(sigs, " ")
}

func webhookMAC(key []byte, id string, ts int64, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte("."))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return mac.Sum(nil)
}

// SignWebhook sets the Standard Webhooks headers of a call with body,
// signed with each of keys (ParseWebhookSecret) at time at.
func SignWebhook(h http.Header, keys [][]byte, id string, at time.Time, body []byte) {
	ts := at.Unix()
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderWebhookSignature, webhookSignature(keys, id, ts, body))
}

// webhookID is an event's webhook-id: the same event (chain, member,
// event id) always has the same one, so that a receiver deduplicates
// retries and the repeat after a crash on it, while two monitors (of two
// members, say) posting to one receiver never share one. It is "msg_" and
// 32 hex digits (no "." in it, as the specification asks).
func webhookID(chainID, member, eventID string) string {
	h := sha256.Sum256([]byte("normledger monitor webhook\x00" + chainID + "\x00" + member + "\x00" + eventID))
	return "msg_" + hex.EncodeToString(h[:16])
}

// VerifyWebhook checks a monitor's webhook call as a receiver gets it:
// the headers present, the timestamp within tolerance of now (either way;
// DefaultWebhookTolerance if tolerance is not positive), and one of the
// v1 signatures that of secret ("whsec_...") over the id, the timestamp
// and the body exactly as received. Every refusal wraps
// ErrWebhookUnverified. Deduplicate on the webhook-id header (or the
// event's id) after this: a verified call may be a repeat.
func VerifyWebhook(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := ParseWebhookSecret(secret)
	if err != nil {
		return err
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	id, tsText, sigs := h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature)
	if id == "" || tsText == "" || sigs == "" {
		return fmt.Errorf("%w: missing %s, %s or %s header", ErrWebhookUnverified, HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not an integer", ErrWebhookUnverified, HeaderWebhookTimestamp, tsText)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %d is %s away from now, more than %s", ErrWebhookUnverified, ts, d.Abs().Round(time.Second), tolerance)
	}
	want := webhookMAC(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no v1 signature matches the secret", ErrWebhookUnverified)
}
