"""The command as an operator types it: exit status and message from a real process."""

import subprocess
import sys

from django.conf import settings


def test_bad_slug_exits_non_zero_with_a_clear_message(db, process_env):
    result = subprocess.run(
        [sys.executable, "manage.py", "provision_tenant", "Bad Slug!", "--name", "X",
         "--owner-email", "x@x.example", "--owner-password", "a-long-test-password"],
        cwd=settings.BASE_DIR, env=process_env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "tenant not created" in result.stderr
    assert "SLUG: Use 3-30 lowercase letters" in result.stderr
