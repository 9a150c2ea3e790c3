package pgtest

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"
)

func TestStartQueryStop(t *testing.T) {
	s := Start(t)
	dsn := s.NewDatabase(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT 6 * 7").Scan(&n); err != nil || n != 42 {
		t.Fatalf("SELECT 6 * 7 = %d, %v", n, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("folder %s left after Stop: %v", s.dir, err)
	}
	db.SetMaxIdleConns(0)
	if err := db.PingContext(ctx); err == nil {
		t.Error("the server answers after Stop")
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
