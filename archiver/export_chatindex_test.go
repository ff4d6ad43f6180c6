package archiver

// ChatIndexOfLines derives a chat index's chats, participants and number of membership
// changes from canonical lines the way a seal does, for TestChatIndexFastPath.
func ChatIndexOfLines(lines []byte) (chats, participants []string, changes int, err error) {
	b := newChatIndexBuilder()
	err = b.addLines(lines)
	return b.chats.sorted(), b.participants.sorted(), len(b.changes), err
}

// ChatIndexFields is chatIndexFields, for TestChatIndexFieldsReadsHead.
var ChatIndexFields = chatIndexFields
