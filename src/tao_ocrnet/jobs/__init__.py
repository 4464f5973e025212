# SPDX-License-Identifier: Apache-2.0
"""Jobs: records under `$OCRNET_HOME`, a platform interface with the local process platform, lifecycle.

Nothing in this package imports torch; `store`, `record`, `ids` and `paths` do not import pydantic either,
so `ocrnet jobs list|status|logs|cancel` start fast.
"""
