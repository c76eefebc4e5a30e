package cli

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// parsePubKey accepts a 32-byte ed25519 public key in hex or base64.
func parsePubKey(flag, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if bz, err := hex.DecodeString(s); err == nil && len(bz) == 32 {
		return bz, nil
	}
	if bz, err := base64.StdEncoding.DecodeString(s); err == nil && len(bz) == 32 {
		return bz, nil
	}
	return nil, fmt.Errorf("%s: want a 32-byte ed25519 public key in hex or base64", flag)
}

// signer is keyring key from's signer.
func (e *env) signer(from string) (ledger.Signer, error) {
	kr, err := e.keyring()
	if err != nil {
		return ledger.Signer{}, err
	}
	return kr.Signer(from)
}

// signAndSend signs rec with keyring key `from`, then prints it
// (--generate-only) or broadcasts it like `tx submit`.
func (e *env) signAndSend(ctx context.Context, from string, rec *pb.Record, generateOnly bool, mode string) error {
	return e.coSignAndSend(ctx, from, nil, rec, generateOnly, mode)
}

// coSignAndSend is signAndSend with co-signers (keyring keys).
func (e *env) coSignAndSend(ctx context.Context, from string, co []string, rec *pb.Record, generateOnly bool, mode string) error {
	kr, err := e.keyring()
	if err != nil {
		return err
	}
	s, cs, err := signers(kr, from, co)
	if err != nil {
		return err
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	raw, err := c.Sign(ctx, rec, s, cs)
	if err != nil {
		return err
	}
	return e.sendSigned(ctx, c, raw, generateOnly, mode)
}

// sendSigned prints a signed tx (--generate-only) or broadcasts it and, in
// commit mode, returns once the record is readable and verifiable at the
// default (attested) height: one more block.
func (e *env) sendSigned(ctx context.Context, c *client.Client, raw []byte, generateOnly bool, mode string) error {
	if generateOnly {
		if e.cfg.Output == "json" {
			return printJSON(e.out, map[string]string{"id": ledger.RecordID(raw), "tx": base64.StdEncoding.EncodeToString(raw)})
		}
		fmt.Fprintln(e.out, base64.StdEncoding.EncodeToString(raw))
		return nil
	}
	res, err := c.Broadcast(ctx, raw, mode != "sync")
	if err != nil {
		return err
	}
	if res.Committed {
		if err := c.WaitAttested(ctx, res.Height); err != nil {
			return err
		}
	}
	return e.printResult(res)
}

type sendFlags struct {
	from, mode   string
	generateOnly bool
}

func (f *sendFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "keyring key that signs (required)")
	fl.StringVar(&f.mode, "broadcast-mode", "commit", "commit (wait for the block) or sync (return after CheckTx)")
	fl.BoolVar(&f.generateOnly, "generate-only", false, "print the signed tx (base64) instead of broadcasting it")
	_ = cmd.MarkFlagRequired("from")
}

func govCmd(e *env) *cobra.Command {
	gov := &cobra.Command{Use: "gov", Short: "Governance: propose changes to members, keys, validators and rules; vote; revoke your own key"}
	gov.AddCommand(proposeCmd(e), voteCmd(e), revokeKeyCmd(e))
	return gov
}

func proposeCmd(e *env) *cobra.Command {
	var sf sendFlags
	var title, rationale, deadline, file string
	var period time.Duration
	propose := &cobra.Command{
		Use:   "propose ACTION [ARGS] --from KEY --title T --rationale R",
		Short: "Propose one governance action (it executes in the block that reaches its threshold)",
		Long: `propose files a proposal record. The electorate and the threshold rule are
fixed when it is filed; see 'normledger query governance-rules'. Actions:

  add-member --id ID --class state|neutral_body|verifier|observer --name N
             [--country XAA] --pub-key KEY... [--role governance]
             [--validator-pub-key KEY --power N] [--poc-name --poc-email ...]
  suspend-member ID | reinstate-member ID | remove-member ID
  add-key MEMBER PUB_KEY|AGE_RECIPIENT
  rotate-key MEMBER OLD_KEY_ID NEW_PUB_KEY|NEW_AGE_RECIPIENT
  revoke-key MEMBER KEY_ID [--compromised-since-height H] [--compromised-since-time T]
  set-validator MEMBER --power N [--validator-pub-key KEY]
  software-upgrade NAME --height H --app-version V [--info TEXT]
                                         (--height 0 cancels the pending NAME)
  set-params --file params.json          (protojson of normledger.v1.Params)
  set-governance-rules --file rules.json (protojson of normledger.v1.GovernanceRules)
  file --file action.json                (protojson of normledger.v1.GovernanceAction)

Signing keys are 32-byte ed25519 public keys in hex or base64 ('normledger
keys show NAME' prints one); an age recipient ("age1...", from 'normledger
keys add-encryption') adds or rotates an encryption key (docs/sealed.md). The deadline is --deadline (RFC 3339) or now plus
--voting-period (default 72h).`,
	}
	add := func(use, short string, args cobra.PositionalArgs, build func(args []string) (*pb.GovernanceAction, error)) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Args: args,
			RunE: func(cmd *cobra.Command, args []string) error {
				act, err := build(args)
				if err != nil {
					return err
				}
				dl := time.Now().Add(period)
				if deadline != "" {
					if dl, err = time.Parse(time.RFC3339, deadline); err != nil {
						return fmt.Errorf("--deadline: %w", err)
					}
				}
				if title == "" {
					title = strings.ReplaceAll(ledger.GovActionName(ledger.ActionOf(act)), "_", " ") + " " + strings.Join(args, " ")
				}
				if rationale == "" {
					return fmt.Errorf("--rationale is required: say why (it is part of the record)")
				}
				rec := &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_Proposal{Proposal: &pb.Proposal{
					Title: title, Rationale: rationale, Deadline: timestamppb.New(dl.UTC().Truncate(time.Second)), Action: act}}}
				ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
				defer cancel()
				return e.signAndSend(ctx, sf.from, rec, sf.generateOnly, sf.mode)
			}}
		sf.add(c)
		f := c.Flags()
		f.StringVar(&title, "title", "", "short title (default: the action and its arguments)")
		f.StringVar(&rationale, "rationale", "", "why the change is proposed (required)")
		f.StringVar(&deadline, "deadline", "", "voting deadline, RFC 3339 (block time)")
		f.DurationVar(&period, "voting-period", 72*time.Hour, "deadline as a duration from now")
		propose.AddCommand(c)
		return c
	}
	ref := func(name string) func(args []string) (*pb.GovernanceAction, error) {
		return func(args []string) (*pb.GovernanceAction, error) {
			r := &pb.MemberRef{Member: args[0]}
			switch name {
			case "suspend":
				return &pb.GovernanceAction{Action: &pb.GovernanceAction_SuspendMember{SuspendMember: r}}, nil
			case "reinstate":
				return &pb.GovernanceAction{Action: &pb.GovernanceAction_ReinstateMember{ReinstateMember: r}}, nil
			}
			return &pb.GovernanceAction{Action: &pb.GovernanceAction_RemoveMember{RemoveMember: r}}, nil
		}
	}
	add("suspend-member ID", "Suspend a member: it signs nothing and leaves electorates until reinstated", cobra.ExactArgs(1), ref("suspend"))
	add("reinstate-member ID", "Reinstate a suspended member", cobra.ExactArgs(1), ref("reinstate"))
	add("remove-member ID", "Remove a member for good (its records stay)", cobra.ExactArgs(1), ref("remove"))

	var am pb.AddMember
	var class string
	var pubKeys []string
	var valKey string
	var poc pb.PointOfContact
	addMember := add("add-member", "Admit a member (optionally running a validator)", cobra.NoArgs, func([]string) (*pb.GovernanceAction, error) {
		m := proto.Clone(&am).(*pb.AddMember)
		cv, ok := enum.Parse(pb.MemberClass(0).Descriptor(), class)
		if !ok {
			return nil, fmt.Errorf("--class: want state, neutral_body, verifier or observer")
		}
		m.Class = pb.MemberClass(cv)
		for _, k := range pubKeys {
			bz, err := parsePubKey("--pub-key", k)
			if err != nil {
				return nil, err
			}
			m.PubKeys = append(m.PubKeys, bz)
		}
		if valKey != "" {
			bz, err := parsePubKey("--validator-pub-key", valKey)
			if err != nil {
				return nil, err
			}
			m.ValidatorPubKey = bz
		}
		if poc.Name != "" || poc.Email != "" || poc.Phone != "" || poc.Organisation != "" {
			m.PointOfContact = proto.Clone(&poc).(*pb.PointOfContact)
		}
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_AddMember{AddMember: m}}, nil
	})
	af := addMember.Flags()
	af.StringVar(&am.Id, "id", "", "member id, [a-z0-9-]{2,32}")
	af.StringVar(&class, "class", "", "state, neutral_body, verifier or observer")
	af.StringVar(&am.Name, "name", "", "name")
	af.StringVar(&am.CountryCode, "country", "", "ISO 3166-1 alpha-3 code (states)")
	af.StringArrayVar(&pubKeys, "pub-key", nil, "signing public key (repeatable)")
	af.StringArrayVar(&am.Roles, "role", nil, "role, e.g. governance (repeatable)")
	af.StringVar(&valKey, "validator-pub-key", "", "validator public key (the node's priv_validator_key.json)")
	af.Int64Var(&am.ValidatorPower, "power", 0, "validator voting power")
	af.StringVar(&poc.Name, "poc-name", "", "point of contact: name")
	af.StringVar(&poc.Organisation, "poc-organisation", "", "point of contact: organisation")
	af.StringVar(&poc.Email, "poc-email", "", "point of contact: email")
	af.StringVar(&poc.Phone, "poc-phone", "", "point of contact: phone")

	add("add-key MEMBER PUB_KEY|AGE_RECIPIENT", "Add a signing key or an encryption key to a member (valid from the block after execution)", cobra.ExactArgs(2), func(args []string) (*pb.GovernanceAction, error) {
		if isAgeRecipient(args[1]) {
			return &pb.GovernanceAction{Action: &pb.GovernanceAction_AddKey{AddKey: &pb.AddKey{Member: args[0], AgeRecipient: args[1]}}}, nil
		}
		k, err := parsePubKey("PUB_KEY", args[1])
		if err != nil {
			return nil, err
		}
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_AddKey{AddKey: &pb.AddKey{Member: args[0], PubKey: k}}}, nil
	})
	add("rotate-key MEMBER OLD_KEY_ID NEW_PUB_KEY|NEW_AGE_RECIPIENT", "Replace a key: the old one ends at the executing height, the new one starts at the next", cobra.ExactArgs(3), func(args []string) (*pb.GovernanceAction, error) {
		if isAgeRecipient(args[2]) {
			return &pb.GovernanceAction{Action: &pb.GovernanceAction_RotateKey{RotateKey: &pb.RotateKey{Member: args[0], OldKeyId: args[1], NewAgeRecipient: args[2]}}}, nil
		}
		k, err := parsePubKey("NEW_PUB_KEY", args[2])
		if err != nil {
			return nil, err
		}
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_RotateKey{RotateKey: &pb.RotateKey{Member: args[0], OldKeyId: args[1], NewPubKey: k}}}, nil
	})
	var sinceHeight int64
	var sinceTime string
	revoke := add("revoke-key MEMBER KEY_ID", "Revoke another member's key by vote, optionally as compromised since a height or time", cobra.ExactArgs(2), func(args []string) (*pb.GovernanceAction, error) {
		t, err := optTime("--compromised-since-time", sinceTime)
		if err != nil {
			return nil, err
		}
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_RevokeKey{RevokeKey: &pb.RevokeKey{Member: args[0], KeyId: args[1],
			CompromisedSinceHeight: sinceHeight, CompromisedSinceTime: t}}}, nil
	})
	revoke.Flags().Int64Var(&sinceHeight, "compromised-since-height", 0, "records signed at or after this height are flagged")
	revoke.Flags().StringVar(&sinceTime, "compromised-since-time", "", "records with a block time at or after this (RFC 3339) are flagged")
	var power int64
	var newValKey string
	setVal := add("set-validator MEMBER --power N", "Set a member's validator power (0 removes it) and optionally its key", cobra.ExactArgs(1), func(args []string) (*pb.GovernanceAction, error) {
		sv := &pb.SetValidator{Member: args[0], Power: power}
		if newValKey != "" {
			k, err := parsePubKey("--validator-pub-key", newValKey)
			if err != nil {
				return nil, err
			}
			sv.ValidatorPubKey = k
		}
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_SetValidator{SetValidator: sv}}, nil
	})
	setVal.Flags().Int64Var(&power, "power", 0, "voting power; 0 removes the validator")
	setVal.Flags().StringVar(&newValKey, "validator-pub-key", "", "new validator public key")
	_ = setVal.MarkFlagRequired("power")
	var upHeight int64
	var upVersion uint64
	var upInfo string
	upgrade := add("software-upgrade NAME --height H --app-version V", "Schedule a software upgrade: at height H every node must run a binary that has upgrade NAME (--height 0 cancels the pending NAME)", cobra.ExactArgs(1), func(args []string) (*pb.GovernanceAction, error) {
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_SoftwareUpgrade{SoftwareUpgrade: &pb.SoftwareUpgrade{
			Name: args[0], Height: upHeight, AppVersion: upVersion, Info: upInfo}}}, nil
	})
	upgrade.Flags().Int64Var(&upHeight, "height", 0, "the first block the new binary runs (0 cancels the pending upgrade NAME)")
	upgrade.Flags().Uint64Var(&upVersion, "app-version", 0, "the app version the upgrade migrates the state to")
	upgrade.Flags().StringVar(&upInfo, "info", "", "where to get the binary, release notes, checksums")
	_ = upgrade.MarkFlagRequired("height")
	fromFile := func(m proto.Message) error {
		if file == "" {
			return fmt.Errorf("--file is required")
		}
		bz, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if err := protojson.Unmarshal(bz, m); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		return nil
	}
	for _, c := range []*cobra.Command{
		add("set-params --file params.json", "Change chain parameters (from the next block)", cobra.NoArgs, func([]string) (*pb.GovernanceAction, error) {
			p := new(pb.Params)
			return &pb.GovernanceAction{Action: &pb.GovernanceAction_SetParams{SetParams: p}}, fromFile(p)
		}),
		add("set-governance-rules --file rules.json", "Change the governance rules (always needs every elector)", cobra.NoArgs, func([]string) (*pb.GovernanceAction, error) {
			r := new(pb.GovernanceRules)
			return &pb.GovernanceAction{Action: &pb.GovernanceAction_SetGovernanceRules{SetGovernanceRules: r}}, fromFile(r)
		}),
		add("file --file action.json", "Propose the action in a JSON file (protojson of GovernanceAction)", cobra.NoArgs, func([]string) (*pb.GovernanceAction, error) {
			a := new(pb.GovernanceAction)
			return a, fromFile(a)
		}),
	} {
		c.Flags().StringVar(&file, "file", "", "JSON file")
	}
	return propose
}

func optTime(flag, s string) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fmt.Errorf("%s: want RFC 3339, e.g. 2026-12-01T09:00:00Z", flag)
	}
	return timestamppb.New(t), nil
}

func voteCmd(e *env) *cobra.Command {
	var sf sendFlags
	var statement string
	c := &cobra.Command{
		Use:   "vote PROPOSAL_ID yes|no|abstain --from KEY",
		Short: "Vote on a proposal (one final vote per elector, accepted until the deadline)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, ok := enum.Parse(pb.VoteOption(0).Descriptor(), args[1])
			if !ok {
				return fmt.Errorf("vote must be yes, no or abstain, not %q", args[1])
			}
			rec := &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_Vote{Vote: &pb.Vote{
				ProposalId: strings.ToLower(args[0]), Option: pb.VoteOption(opt), Statement: statement}}}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			return e.signAndSend(ctx, sf.from, rec, sf.generateOnly, sf.mode)
		},
	}
	sf.add(c)
	c.Flags().StringVar(&statement, "statement", "", "statement to put on the record with the vote")
	return c
}

func revokeKeyCmd(e *env) *cobra.Command {
	var sf sendFlags
	var sinceHeight int64
	var sinceTime, reason, member string
	c := &cobra.Command{
		Use:   "revoke-key KEY_ID --from KEY",
		Short: "Emergency: revoke one of your own keys at once, without a vote",
		Long: `revoke-key files a key_revocation record signed by --from (any active key of
the member, including the one revoked). The key signs nothing from then on.
With --compromised-since-height or --compromised-since-time, records it
signed at or after that point are flagged wherever they are read; earlier
ones keep verifying. A replacement key needs a vote ('gov propose add-key').`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := optTime("--compromised-since-time", sinceTime)
			if err != nil {
				return err
			}
			m := member
			if m == "" {
				kr, err := e.keyring()
				if err != nil {
					return err
				}
				s, err := kr.Signer(sf.from)
				if err != nil {
					return err
				}
				m = s.Member
			}
			rec := &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_KeyRevocation{KeyRevocation: &pb.KeyRevocation{
				Member: m, KeyId: args[0], CompromisedSinceHeight: sinceHeight, CompromisedSinceTime: t, Reason: reason}}}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			return e.signAndSend(ctx, sf.from, rec, sf.generateOnly, sf.mode)
		},
	}
	sf.add(c)
	f := c.Flags()
	f.Int64Var(&sinceHeight, "compromised-since-height", 0, "records signed at or after this height are flagged")
	f.StringVar(&sinceTime, "compromised-since-time", "", "records with a block time at or after this (RFC 3339) are flagged")
	f.StringVar(&reason, "reason", "", "why")
	f.StringVar(&member, "member", "", "the key's member (default: the --from key's member)")
	return c
}

// govQueries are the governance reads under `query`.
func govQueries(e *env, withClient func(*cobra.Command, func(context.Context, *client.Client) error) error) []*cobra.Command {
	var status, pageToken string
	var limit uint32
	proposals := &cobra.Command{
		Use: "proposals", Short: "List governance proposals", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.Proposals(ctx, &pb.ListProposalsRequest{Status: status, PageToken: pageToken, Limit: limit})
				if err != nil {
					return err
				}
				if e.cfg.Output == "json" {
					_, err := fmt.Fprintln(e.out, string(protoJSON(res)))
					return err
				}
				return textProposals(e.out, res)
			})
		},
	}
	pf := proposals.Flags()
	pf.StringVar(&status, "status", "", "voting, passed, rejected, vetoed, expired, aborted or failed")
	pf.StringVar(&pageToken, "page-token", "", "continue from a previous page")
	pf.Uint32Var(&limit, "limit", 50, "page size (at most 200)")
	proposal := &cobra.Command{
		Use: "proposal ID", Short: "Show a proposal with its tally and who voted what", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.Proposal(ctx, strings.ToLower(args[0]), 0, false)
				if err != nil {
					return notFound(err)
				}
				if e.cfg.Output == "json" {
					_, err := fmt.Fprintln(e.out, string(protoJSON(res)))
					return err
				}
				return textProposal(e.out, res)
			})
		},
	}
	rules := &cobra.Command{
		Use: "governance-rules", Short: "Show the governance rules and chain parameters in force", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.GovernanceRules(ctx, 0, false)
				if err != nil {
					return err
				}
				if e.cfg.Output == "json" {
					_, err := fmt.Fprintln(e.out, string(protoJSON(res)))
					return err
				}
				return textGovernanceRules(e.out, res)
			})
		},
	}
	return []*cobra.Command{proposals, proposal, rules}
}

// ruleText describes a threshold rule in words.
func ruleText(r *pb.ThresholdRule) string {
	if r == nil {
		return "-"
	}
	var parts []string
	if r.Unanimous {
		parts = append(parts, "unanimous")
	} else {
		parts = append(parts, fmt.Sprintf(">= %d/%d yes", r.ThresholdNumerator, r.ThresholdDenominator))
	}
	if r.VetoDenominator != 0 {
		parts = append(parts, fmt.Sprintf("vetoed by > %d/%d no", r.VetoNumerator, r.VetoDenominator))
	}
	if r.QuorumDenominator != 0 {
		parts = append(parts, fmt.Sprintf("quorum %d/%d", r.QuorumNumerator, r.QuorumDenominator))
	}
	var classes []string
	for _, c := range r.Electorate {
		classes = append(classes, enum.Name(c))
	}
	return strings.Join(parts, ", ") + " of active " + strings.Join(classes, "+") + " members with the governance role"
}

// isAgeRecipient says whether a key argument is an age recipient (an
// encryption key) rather than an ed25519 public key.
func isAgeRecipient(s string) bool { return strings.HasPrefix(s, "age1") }
