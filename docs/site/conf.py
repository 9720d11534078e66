# Sphinx configuration of the collection's docs site (make docs): the pages antsibull-docs writes for the
# modules, plugins and roles, and the guides of docs/docsite (the README and the runbooks, in Markdown).
# The build reads nothing from the network: references into Ansible's own docs resolve through a small local
# inventory (make docs writes it, docs/site/ansible_inventory.py), and the theme's assets are packaged.
project = "comfyops.comfyui"
copyright = "comfyops contributors"
title = "comfyops.comfyui"
html_short_title = "comfyops.comfyui"
html_title = "comfyops.comfyui documentation"

extensions = ["sphinx.ext.intersphinx", "sphinx_antsibull_ext", "myst_parser"]
pygments_style = "ansible"
highlight_language = "YAML+Jinja"

html_theme = "sphinx_ansible_theme"
html_show_sphinx = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

# links to docs.ansible.com, resolved from a local inventory only
intersphinx_mapping = {"ansible_devel": ("https://docs.ansible.com/projects/ansible/devel/", ("../ansible_devel.inv",))}
intersphinx_timeout = 1

# The Markdown guides link to files of the repository (inventories/, playbooks/): those stay links to GitHub.
myst_heading_anchors = 3
default_role = "any"
nitpicky = True
