package runner

import (
	"context"
	"fmt"
	"io"
	"os/exec"
)

// clusterKiller kills and revives one node of the bundled cluster.
type clusterKiller struct {
	c Cluster
	i int
}

func (k *clusterKiller) Kill(ctx context.Context) (string, error) {
	return fmt.Sprintf("%d", k.i+1), k.c.Kill(k.i)
}

func (k *clusterKiller) Restore(ctx context.Context) error { return k.c.Revive(k.i) }

// commandKiller runs the scenario's node_loss commands for external targets.
type commandKiller struct {
	kill, restore string
	stderr        io.Writer
}

func (k *commandKiller) Kill(ctx context.Context) (string, error) {
	return k.kill, k.run(ctx, k.kill)
}

func (k *commandKiller) Restore(ctx context.Context) error {
	if k.restore == "" {
		return nil
	}
	return k.run(ctx, k.restore)
}

func (k *commandKiller) run(ctx context.Context, command string) error {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdout, cmd.Stderr = k.stderr, k.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%q: %w", command, err)
	}
	return nil
}
