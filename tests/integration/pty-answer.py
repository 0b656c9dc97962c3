#!/usr/bin/env python3
"""Run a command on a new pseudo-terminal (its controlling terminal) and type one answer
at each prompt ending in ':'. Usage: pty-answer.py ANSWER... -- COMMAND [ARG]...
Prints everything the command wrote to the terminal; exits with the command's status."""
import os
import pty
import select
import signal
import sys

sep = sys.argv.index("--")
answers = sys.argv[1:sep]
command = sys.argv[sep + 1:]

pid, fd = pty.fork()
if pid == 0:
    os.execvp(command[0], command)

output = b""
pending = b""
while True:
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        sys.stdout.write(output.decode(errors="replace") + "\npty-answer: timed out\n")
        sys.exit(124)
    try:
        data = os.read(fd, 4096)
    except OSError:         # EIO: the command closed the terminal
        break
    if not data:
        break
    output += data
    pending += data
    # The prompt is written after echo is turned off and pending input flushed.
    if answers and pending.rstrip().endswith(b":"):
        os.write(fd, answers.pop(0).encode() + b"\n")
        pending = b""

_, status = os.waitpid(pid, 0)
sys.stdout.write(output.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
