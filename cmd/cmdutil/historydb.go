package cmdutil

import (
	"context"
	"errors"

	"github.com/spf13/pflag"

	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/history"
)

// DBFlag is the help of every --db flag.
const DBFlag = "the history store: an SQLite file, or a postgres:// URL (default " + history.DefaultPath + ")"

// HistoryDB is the --db and --allow-public flags of every command that
// reads or writes the history store, and how it is opened: a store the
// user named wrongly (a public server, a scheme or schema bestbefore does
// not take, no store yet) is a usage error, exit 2; anything else is a
// run failure.
type HistoryDB struct {
	DB          string
	AllowPublic bool
}

// Flags adds --db (its help DBFlag and what follows it) and
// --allow-public to fl.
func (h *HistoryDB) Flags(fl *pflag.FlagSet, dbHelpSuffix string) {
	fl.StringVar(&h.DB, "db", "", DBFlag+dbHelpSuffix)
	fl.BoolVar(&h.AllowPublic, "allow-public", false, "allow a database server outside loopback and private address ranges")
}

// Open opens the store to write it, creating and migrating it as needed.
func (h *HistoryDB) Open(ctx context.Context) (*history.Store, error) {
	return h.open(ctx, history.Open)
}

// OpenRead opens the store only to read it (list, changes, report, a
// baseline): a store on a read-only disk can be read, and nothing is
// created or migrated.
func (h *HistoryDB) OpenRead(ctx context.Context) (*history.Store, error) {
	return h.open(ctx, history.OpenReadOnly)
}

func (h *HistoryDB) open(ctx context.Context, open func(context.Context, string, h1.Guard) (*history.Store, error)) (*history.Store, error) {
	s, err := open(ctx, h.DB, h1.Guard{AllowPublic: h.AllowPublic})
	if err != nil {
		if errors.Is(err, h1.ErrPublicAddress) || errors.Is(err, history.ErrBadDB) || errors.Is(err, history.ErrNewerSchema) || errors.Is(err, history.ErrNoStore) {
			return nil, BadInput(err)
		}
		return nil, RunFailed(err)
	}
	return s, nil
}
