# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options of every module that opens a restic repository (module_utils/_backup.RESTIC_OPTIONS).
    DOCUMENTATION = r"""
options:
  base:
    description: The deploy base, such as C(/srv/comfyui).
    type: path
    required: true
  repository:
    description: The restic repository (a local path, C(sftp:), C(s3:), C(rest:) URL). Credentials in a URL are never shown.
    type: str
    required: true
  password:
    description: The repository password (from Ansible Vault). One of O(password) and O(password_file) is required.
    type: str
  password_file:
    description: A file on the host that holds the repository password.
    type: path
  env:
    description: More environment for restic, such as C(AWS_ACCESS_KEY_ID) and C(AWS_SECRET_ACCESS_KEY) for an S3 repository.
    type: dict
    default: {}
  restic:
    description: The restic program.
    type: str
    default: restic
  cache_dir:
    description: restic's cache (default C(<base>/backup/cache)).
    type: path
notes:
  - The password reaches restic in a file (mode 0600), never on a command line.
"""
