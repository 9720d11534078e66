# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: awx_survey
short_description: An AWX job template survey made from the collection's argument specs
version_added: 0.1.0
description:
  - "The survey spec for the variables given, in that order, each question made from the variable's declaration in
    C(playbooks/vars/argument_specs.yml) or a role's C(meta/argument_specs.yml): its type (V(str) and V(path) text,
    V(int) integer, V(float) float, V(bool) a choice of V(true)/V(false), a list of texts a text area), choices,
    default, whether it is required, and its description. A V(no_log) variable is a password question without a
    default. The questions are not written a second time anywhere."
  - Fails naming a variable that no argument spec declares, or one a survey cannot ask for (a dict, a list of dicts).
author:
  - comfyops maintainers (@comfyops)
positional: name, description
options:
  _input:
    description: The variables to ask for, in order.
    type: list
    elements: str
    required: true
  name:
    description: The survey's name.
    type: str
    required: true
  description:
    description: The survey's description.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: The deploy job template, its survey from the argument specs
  awx.awx.job_template:
    name: ComfyUI deploy
    playbook: playbooks/deploy.yml
    project: comfyops
    inventory: GPU fleet
    survey_enabled: true
    survey_spec: "{{ ['comfyui_deploy_ref', 'comfyui_deploy_canary', 'comfyui_deploy_batch'] | comfyops.comfyui.awx_survey('Deploy') }}"
"""

RETURN = r"""
_value:
  description: The survey spec (name, description, spec), as the AWX API and C(awx.awx.job_template) take it.
  type: dict
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._awx import SurveyError, survey_spec
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.role_spec import declared_options


@typed(DOCUMENTATION)
@filter_errors("awx_survey", SurveyError)
def awx_survey(variables, name, description=""):
    return survey_spec(str(name), str(description), [str(v) for v in variables], declared_options())


class FilterModule:
    def filters(self):
        return {"awx_survey": awx_survey}
