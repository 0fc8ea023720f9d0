"""Every scripted line of the demo: agent sentences and user utterances (text only).

The render script turns these into FLAC clips under `sim/assets/`; the clip TTS and the
scenes look clips up by these texts and names.
"""

from __future__ import annotations

AGENT_LINES: tuple[str, ...] = (
    # backchannel scene: a long explanation the user acknowledges mid-way
    "Sure, here is how to reset your router.",
    "First, unplug it from the wall and wait about thirty seconds.",
    "Then plug it back in and wait until the lights turn solid green.",
    "After that, open the app and run the connection test.",
    # interruption scene
    "Okay, I have booked your appointment for Monday at ten in the morning.",
    "I will send a confirmation to your email address shortly, along with directions.",
    "Got it, Tuesday then.",
    "What time works for you?",
    # long-pause scene
    "What is the best number to reach you?",
    "Thanks, I have four one five, two two three, four five six seven.",
    # code scene
    "What is the six-digit code we sent you?",
    "Thanks, the code four one five, two two three is right.",
    # generic replies (e.g. when a backchannel is answered as a turn)
    "Okay.",
    "Sorry, did you want to add something?",
)
"""Agent sentences, each rendered as its own clip (the TTS receives sentence chunks)."""

USER_CLIPS: dict[str, str] = {
    "uh_huh": "Uh huh.",
    "wait_stop_tuesday": "Wait, stop, I meant Tuesday.",
    "number_part1": "My number is four one five.",
    "number_part2": "Two two three, four five six seven.",
    "code_part1": "It's four one five.",
    "code_part2": "Two two three.",
    "email_part1": "Can you send it to my email?",
    "email_part2": "Please.",
}
"""User clips by name -> the text rendered."""
