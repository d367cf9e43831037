// How much of a node's words a DropTrace's status repeats: status stays small however many nodes
// fail, and whatever they say.

/** Condition and summary messages are cut here. */
export const MAX_MESSAGE_LENGTH = 1024;
/** Nodes named in a condition message. */
export const MAX_NODES_NAMED = 5;
