// Strings kept for a whole trace, cut loose from the stdout chunk they were read from.

/**
 * A copy of `text` that does not share memory with the string it was cut from. V8 keeps
 * substrings of 13 characters or more as views into their parent, so a key kept for the whole
 * trace would otherwise pin the entire stdout chunk its line came from.
 */
export function detached(text: string): string {
  return text.length < 13 ? text : Buffer.from(text, "utf8").toString("utf8");
}
