package archiver

import (
	"context"
	"time"

	"github.com/chatvault/chatvault/model"
)

// StoreChatIndexForTest stores org's chat index of day as a layout-3 commit does
// (writer.storeChatIndex3) and returns the reference its manifest would carry, for
// TestChatIndexInlineOrOverflow.
func StoreChatIndexForTest(ctx context.Context, s Store, day Day, org model.Organization, x *ChatIndex) (*ChatIndexRef, error) {
	w := &writer{s: &Sealer{Store: s}, day: day, start: time.UnixMilli(1798000000000)}
	c := &orgCommit{OrgResult: OrgResult{Org: org.ID}, org: org, index: x}
	if err := w.storeChatIndex3(ctx, c); err != nil {
		return nil, err
	}
	return c.ChatIndex, nil
}

// ChatIndexOfLines derives a chat index's chats, participants and number of membership
// changes from canonical lines the way a seal does, for TestChatIndexFastPath.
func ChatIndexOfLines(lines []byte) (chats, participants []string, changes int, err error) {
	b := NewChatIndexBuilder()
	err = b.addLines(lines)
	return b.chats.sorted(), b.participants.sorted(), len(b.changes), err
}

// ChatIndexFields is chatIndexFields, for TestChatIndexFieldsReadsHead.
var ChatIndexFields = chatIndexFields
