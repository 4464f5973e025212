# SPDX-License-Identifier: Apache-2.0
"""`python -m tao_ocrnet ...` is the same as the `ocrnet` command."""

import sys

from tao_ocrnet.cli import main

sys.exit(main())
