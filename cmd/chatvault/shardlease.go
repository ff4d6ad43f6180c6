package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver/scheduler"
)

// registrationTTL bounds how long a shard's registration may hold the store's seal lease:
// it holds it for a few requests, and a run that dies while registering lets it run out
// after this (at once for a rerun on the same host: deadRunHolder).
const registrationTTL = 30 * time.Second

// registering marks, in the store's seal lease, the holder of a shard's registration, so
// that the other shards of the day wait for it instead of giving up.
const registering = " registering "

// takeShard takes a sharded run's lease (leases/shards/<n>/<i>/), registered under the
// store's seal lease (leases/scheduler/, the scheduler's and an unsharded run's): the
// shard holds that lease only while it creates its own, then gives it back. The scheduler
// looks for shard leases once it holds the store's lease, so one create-only lease orders
// the two: either the shard's lease exists before the scheduler looks (the scheduler backs
// off), or the scheduler holds its lease when the shard would register (the shard is
// refused). Of the two starting at once exactly one seals; when each created its own
// lease and then looked for the other's, both could see the other and neither seal. The
// shards of a day register one after the other: a shard that finds another registering
// asks again shortly.
//
// A shard's lease held by another run of the same shard is waited for once, while it is
// not renewed (waitUnrenewed, runlease.go): the Indexed Job retries a killed pod in a new
// pod, on another host, within seconds, before the killed pod's lease has run out.
func (s *sealLease) takeShard(ctx context.Context) error {
	err := s.registerShard(ctx)
	if !errors.Is(err, errShardLeaseHeld) {
		return err
	}
	if err := s.waitUnrenewed(ctx, s.shardHeldError()); err != nil {
		return err
	}
	if err := s.registerShard(ctx); errors.Is(err, errShardLeaseHeld) {
		return s.shardHeldError()
	} else if err != nil {
		return err
	}
	return nil
}

// errShardLeaseHeld is registerShard's answer when another run holds the shard's lease.
var errShardLeaseHeld = errors.New("the shard's lease is held")

func (s *sealLease) shardHeldError() error {
	return fmt.Errorf("%w (the shard's lease %s is held: another run of this shard is sealing; it runs out %s after its holder stops): try again when it is done", errSealerRunning, s.lease.Prefix, sealLeaseTTL)
}

// registerShard creates the shard's lease under the store's seal lease; errShardLeaseHeld
// when another run of the shard holds it.
func (s *sealLease) registerShard(ctx context.Context) error {
	reg := &scheduler.Lease{Store: s.lease.Store, Holder: s.lease.Holder + registering + s.lease.Prefix,
		TTL: registrationTTL, Clock: s.lease.Clock, MaxSkew: s.lease.MaxSkew}
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err := reg.AcquireOrTakeOver(ctx, deadRunHolder)
		if err == nil {
			break
		}
		if !errors.Is(err, scheduler.ErrLeaseHeld) {
			return err
		}
		holder, held, err := reg.HeldByAnother(ctx)
		if err != nil {
			return err
		}
		if held && !strings.Contains(holder, registering) {
			return fmt.Errorf("%w (the store's seal lease leases/scheduler/ is held by %s: the nightly seal is sealing every organization, shards included): try again when it is done", errSealerRunning, holder)
		}
		// Another shard registering, or its registration just given back.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-reg.Clock.After(wait):
		}
	}
	err := s.lease.AcquireOrTakeOver(ctx, deadRunHolder)
	// Given back whatever came of it; if that fails, the registration runs out by its TTL,
	// and meanwhile the scheduler sees the store's lease held (it seals nothing either way).
	if rerr := reg.Release(context.WithoutCancel(ctx)); rerr != nil {
		s.log.Warn("seal lease release after a shard's registration", "err", rerr)
	}
	if errors.Is(err, scheduler.ErrLeaseHeld) {
		return errShardLeaseHeld
	}
	if err != nil {
		return err
	}
	s.held = true
	s.renew(ctx)
	return nil
}
