"""`make shell`'s terminal client: chats with the bot through its REST channel.

What you type is sent as typed. The bot's buttons are shown numbered; one is chosen only by typing
`#2` (its number) or exactly its title, and then its payload is sent. `/stop`, Ctrl-D or Ctrl-C ends.
Lines piped in (not a terminal) are messages too, one a line.

    python scripts/shell.py --url http://localhost:5005   # against a running server, e.g. `make run`
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import uuid
import warnings
from typing import Dict, List, Optional

warnings.simplefilter("ignore")  # no library warnings in the terminal

import requests  # noqa: E402

PROMPT = "Your input -> "
STOP = "/stop"
CHOICE = re.compile(r"#\s*(\d+)")
HINT = "  (choose with #1, #2 … or a button's exact title, Tab completes it; anything else is sent as typed)"
Button = Dict[str, str]


class Chat:
    def __init__(self, url: str, sender: str) -> None:
        self.webhook = url.rstrip("/") + "/webhooks/rest/webhook"
        self.sender = sender
        self.buttons: List[Button] = []  # those of the bot's last reply
        self.hinted = False

    def to_send(self, line: str) -> Optional[str]:
        """The message for a typed line: a button's payload when one is chosen, else the line itself."""
        choice = CHOICE.fullmatch(line.strip())
        if choice:
            number = int(choice.group(1))
            if 1 <= number <= len(self.buttons):
                return self.buttons[number - 1]["payload"]
            print(f"No button [{number}] to choose." if self.buttons else "No buttons to choose from.")
            return None
        titles = {button["title"]: button["payload"] for button in self.buttons}
        return titles.get(line.strip(), line)

    def send(self, message: str) -> None:
        try:
            response = requests.post(
                self.webhook, json={"sender": self.sender, "message": message}, timeout=60
            )
            response.raise_for_status()
            replies = response.json()
        except (requests.RequestException, ValueError) as error:
            print(f"The bot did not answer ({type(error).__name__} from {self.webhook}); try again.")
            return
        self.show(replies)

    def show(self, replies: List[Dict]) -> None:
        buttons = [button for reply in replies for button in reply.get("buttons") or []]
        # Link buttons ("上传证据") open a page: shown as their address, never sent to the bot.
        self.buttons = [button for button in buttons if not button.get("url")]
        for reply in replies:
            for key in ("text", "image"):
                if reply.get(key):
                    print(reply[key])
            for button in reply.get("buttons") or []:
                if button.get("url"):
                    print(f"  {button['title']}: {button['url']}")
        if self.buttons:
            print("  " + "  ".join(f"[{n}] {b['title']}" for n, b in enumerate(self.buttons, 1)))
            if not self.hinted:
                print(HINT)
                self.hinted = True


def read_lines(chat: Chat):
    """Typed lines (with Tab-completion of button titles on a terminal) or piped lines, echoed."""
    if sys.stdin.isatty():
        try:
            from prompt_toolkit import PromptSession
            from prompt_toolkit.completion import WordCompleter
        except ImportError:
            while True:
                yield input(PROMPT)
        titles = WordCompleter(lambda: [button["title"] for button in chat.buttons], sentence=True)
        os.environ.setdefault("PROMPT_TOOLKIT_NO_CPR", "1")  # no warning from terminals without it
        session = PromptSession(completer=titles, complete_while_typing=False)
        while True:
            yield session.prompt(PROMPT)
    for line in sys.stdin:
        line = line.rstrip("\r\n")
        print(PROMPT + line)
        yield line


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--url", default="http://localhost:5005", help="the Rasa server")
    parser.add_argument("--sender", default=f"shell-{uuid.uuid4().hex[:8]}", help="conversation id")
    args = parser.parse_args(argv)
    chat = Chat(args.url, args.sender)
    print(f"Conversation id: {chat.sender} (the agent console lists it by this id). Type {STOP} to leave.")
    try:
        for line in read_lines(chat):
            if line.strip() == STOP:
                break
            message = chat.to_send(line) if line.strip() else None
            if message is not None:
                chat.send(message)
    except (EOFError, KeyboardInterrupt):
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
