"""Settings are declared once (omnitenant_patch.conf.SETTINGS): validation, the patch_celery()
keywords, the system check and README's table all come from the declarations."""

from pathlib import Path

import pytest
from django.core import checks

from omnitenant_patch import ImproperlyConfigured, TenantContext, patch_celery, unpatch_celery
from omnitenant_patch.conf import OVERRIDES, SETTINGS, get_config, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"
NOT_ALLOWED = object()  # a value no declaration allows


def test_readmes_settings_table_is_the_declarations():
    text = README.read_text()
    block = text.split("<!-- settings-table -->")[1].split("<!-- /settings-table -->")[0]
    assert block.strip() == settings_table(), (
        "run `python -m omnitenant_patch settings-table` and paste it into README.md")


def test_every_declared_setting_has_its_default_in_the_effective_config(settings_override):
    from django.conf import settings
    from django.test.utils import override_settings

    with override_settings(OMNITENANT_CONFIG={}):
        config = get_config()
        assert {s.attr: getattr(config, s.attr) for s in SETTINGS} == {
            s.attr: s.default for s in SETTINGS}
    assert settings.OMNITENANT_CONFIG  # and back to the test project's afterwards


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.key for s in SETTINGS])
def test_a_value_a_setting_may_not_hold_is_refused_naming_the_key(setting, settings_override):
    section, _, key = setting.key.rpartition(".")
    settings_override(**({section: {key: NOT_ALLOWED}} if section else {key: NOT_ALLOWED}))
    with pytest.raises(ImproperlyConfigured) as refused:
        TenantContext.get_tenant()
    assert setting.path in str(refused.value)
    assert any(m.id == "omnitenant.E004" and setting.path in m.msg for m in checks.run_checks())


def test_patch_celery_takes_every_overridable_setting_as_a_keyword():
    assert set(OVERRIDES) == {s.attr for s in SETTINGS if s.overridable}
    unpatch_celery()
    try:
        patch_celery(require_tenant=False, on_missing_tenant="raise", header="tenant_id")
        assert get_config().on_missing_tenant == "raise"
        with pytest.raises(TypeError, match="known:.*sign_headers"):
            unpatch_celery()
            patch_celery(sign_header=True)
    finally:
        unpatch_celery()
        patch_celery()
