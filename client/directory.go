package client

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Directory fetches the contact directory at height (0: the newest
// attested), with member proofs if prove.
func (c *Client) Directory(ctx context.Context, height int64, prove bool) (*pb.GetDirectoryResponse, error) {
	out := new(pb.GetDirectoryResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/directory", heightQuery(height, prove), nil, out)
}

// PingStatus fetches who a ping tested and who answered.
func (c *Client) PingStatus(ctx context.Context, id string, height int64) (*pb.GetPingStatusResponse, error) {
	out := new(pb.GetPingStatusResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/pings/"+url.PathEscape(id), heightQuery(height, false), nil, out)
}

// NonceLen is the size of the nonces PingTo draws (128 bits).
const NonceLen = 16

var nonceEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// FormatNonce writes a nonce for an operator to read out or paste: base32
// in groups of five ("MFRGG-ZDFMZ-...").
func FormatNonce(n []byte) string {
	s := nonceEncoding.EncodeToString(n)
	var b strings.Builder
	for i := 0; i < len(s); i += 5 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i:min(i+5, len(s))])
	}
	return b.String()
}

// ParseNonce reads a nonce as FormatNonce wrote it, forgiving case,
// spaces and dashes (it may have been read over the phone).
func ParseNonce(s string) ([]byte, error) {
	s = strings.ToUpper(strings.NewReplacer("-", "", " ", "", "\t", "").Replace(s))
	n, err := nonceEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not a nonce (base32 in groups of five): %w", err)
	}
	if len(n) < ledger.MinNonceLen || len(n) > ledger.MaxNonceLen {
		return nil, fmt.Errorf("a nonce is %d to %d bytes, this is %d", ledger.MinNonceLen, ledger.MaxNonceLen, len(n))
	}
	return n, nil
}

// PingSend is one target of a ping: the channel its nonce must travel
// through, and the nonce (kept by the pinger until it is sent).
type PingSend struct {
	Member  string         `json:"member"`
	Role    string         `json:"role"`
	Channel string         `json:"channel_type"`
	Address string         `json:"address"`
	Nonce   string         `json:"nonce"`
	target  *pb.PingTarget `json:"-"`
}

// Target is the ping target the send commits to.
func (s PingSend) Target() *pb.PingTarget { return s.target }

// ErrNoChannel says a member's entry has no channel to ping through.
var ErrNoChannel = errors.New("no registered channel to ping through")

// PingTo draws a fresh nonce for each member and commits to it, through
// the member's registered channel of role (its first of channelType, or
// its first at all when channelType is unspecified), read from the member
// entries ms.
func PingTo(ms []*pb.Member, ids []string, role pb.ContactRole, channelType pb.ChannelType) ([]PingSend, error) {
	byID := map[string]*pb.Member{}
	for _, m := range ms {
		byID[m.Id] = m
	}
	var out []PingSend
	for _, id := range ids {
		m := byID[id]
		if m == nil {
			return nil, fmt.Errorf("%s: not a member", id)
		}
		var ch *pb.ContactChannel
		for _, p := range m.GetDirectory().GetPoints() {
			if p.Role != role {
				continue
			}
			for _, c := range p.Channels {
				if channelType == pb.ChannelType_CHANNEL_TYPE_UNSPECIFIED || c.Type == channelType {
					ch = c
					break
				}
			}
		}
		if ch == nil {
			return nil, fmt.Errorf("%s: %w of role %s%s", id, ErrNoChannel, enum.Name(role), typeNote(channelType))
		}
		nonce := make([]byte, NonceLen)
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out = append(out, PingSend{Member: id, Role: enum.Name(role), Channel: enum.Name(ch.Type), Address: ch.Address,
			Nonce:  FormatNonce(nonce),
			target: &pb.PingTarget{Member: id, Role: role, Channel: ch, Commitment: ledger.PingCommitment(id, nonce)}})
	}
	return out, nil
}

func typeNote(t pb.ChannelType) string {
	if t == pb.ChannelType_CHANNEL_TYPE_UNSPECIFIED {
		return ""
	}
	return " and type " + enum.Name(t)
}

// Case fetches a case with the duties it placed (and, with prove, their
// proofs) at height (0: the newest attested).
func (c *Client) Case(ctx context.Context, id string, height int64, prove bool) (*pb.GetCaseResponse, error) {
	out := new(pb.GetCaseResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/cases/"+url.PathEscape(id), heightQuery(height, prove), nil, out)
}

// Cases lists cases: of a party (a member id), at a stage ("requested",
// ..., "closed"), or all; one page after pageToken.
func (c *Client) Cases(ctx context.Context, party, stage, pageToken string, height int64, prove bool) (*pb.ListCasesResponse, error) {
	q := heightQuery(height, prove)
	if party != "" {
		q.Set("party", party)
	}
	if stage != "" {
		q.Set("stage", stage)
	}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	out := new(pb.ListCasesResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/cases", q, nil, out)
}
