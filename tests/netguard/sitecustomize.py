"""Loaded by every Python process the tests start (the session puts this directory on
PYTHONPATH): no subprocess reaches the internet, and each attempt is logged for the session
to fail on. See releasebot_netguard.py for the rules."""

import releasebot_netguard

releasebot_netguard.install_in_this_process()
