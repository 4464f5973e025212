# SPDX-License-Identifier: Apache-2.0
"""tao-ocrnet: NVIDIA TAO OCRNet as a skill, a CLI and an MCP server."""

__version__ = "0.1.0"
