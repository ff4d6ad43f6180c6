package archiver

import (
	"context"
	"time"
)

// RetentionExtender is a store that can lengthen an object's retention (S3 Object Lock:
// COMPLIANCE retention can be lengthened, never shortened). An object that several days'
// records need, such as a captured attachment that a later message links again, must be
// kept as long as the latest of them, while Create sets the retention only when it writes.
type RetentionExtender interface {
	// ExtendRetention makes key's current version retained at least until until: nothing
	// when it already is, or when the store does not lock objects.
	ExtendRetention(ctx context.Context, key string, until time.Time) error
}
