package testpg_test

import (
	"database/sql"
	"os"
	"testing"

	"github.com/astropulse/astroplane/internal/testpg"
)

// A server of the test's own comes back from a crash-like stop on the same address
// with what was committed, and refuses connections while it is down.
func TestMain(m *testing.M) {
	code := m.Run()
	testpg.Stop()
	os.Exit(code)
}

func TestRestartKeepsCommittedData(t *testing.T) {
	pg := testpg.StartOwn(t)
	url := pg.NewDatabase(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before')"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Down(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err == nil {
		t.Fatal("the server answered while down")
	}
	if err := pg.Up(t.Context()); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := db.QueryRow("SELECT v FROM kept").Scan(&v); err != nil || v != "before" {
		t.Fatalf("after the restart: %q, %v", v, err)
	}
	if err := pg.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
	if err := testpg.Require(t).Down(); err == nil {
		t.Fatal("the shared server could be stopped by a test")
	}
}
