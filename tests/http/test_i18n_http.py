"""Pages in the user's language: stored preference, sign-in page choice, form errors, profile.

Each test runs on SQLite and on PostgreSQL (the ``app`` fixture).
"""

from __future__ import annotations

import re

import pytest

from lims.auth.operations import find_user
from lims.db import Actor, transaction
from lims.i18n_build import compile_catalogs
from tests.conftest import audit_rows

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module", autouse=True)
def _catalogues():
    compile_catalogs()  # the .mo files are gitignored; cheap when already up to date


def _html(response) -> str:
    return response.get_data(as_text=True)


def _user(username):
    with transaction(Actor(None, "test"), write=False) as s:
        return find_user(s, username)


def test_chinese_user_sees_navigation_and_home_in_chinese(as_user):
    b = as_user("qa1", roles=["qa"], language="zh_CN")
    html = _html(b.get("/"))
    nav = html[html.index('<nav class="mainnav"') : html.index("</nav>")]
    for text in (">首页<", ">设备<", ">审计追踪<"):
        assert text in nav
    for text in (
        "欢迎，Qa1",
        "您的近期操作",
        "审核、筛选并导出所有变更",
        "退出登录",
        "扫码或输入编号后按回车",
        "所有更改均记录在审计追踪中。",
        "时间均按 Asia/Shanghai 显示",
        "<title>首页 · ",
    ):
        assert text in html, text
    for english in (
        ">Home<",
        ">Equipment<",
        ">Audit trail<",
        "Welcome,",
        "Your recent activity",
        "Sign out",
        "Every change is recorded",
    ):
        assert english not in html, english


def test_english_user_sees_english(as_user):
    b = as_user("tech1", roles=["technician"], language="en")
    html = _html(b.get("/"))
    for text in (
        '<html lang="en">',
        ">Home<",
        ">Equipment<",
        "Welcome, Tech1",
        "Your recent activity",
        "Sign out",
        "Register equipment",
        "Every change is recorded in the audit trail.",
    ):
        assert text in html, text
    assert not CJK.findall(html), f"Chinese text on an English page: {set(CJK.findall(html))}"


def test_language_link_switches_the_sign_in_page(browser):
    html = _html(browser.get("/login"))
    assert "<h1>Sign in</h1>" in html and "简体中文" in html  # the link names each language in itself

    r = browser.get("/language/zh_CN", headers={"Referer": "http://localhost/login"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    html = _html(browser.get("/login"))
    for text in ("<h1>登录</h1>", ">用户名</label>", ">密码</label>", "仅限个人账户使用。", "<title>登录 · "):
        assert text in html, text
    assert "Sign in" not in html and "User name" not in html

    browser.get("/language/en")
    assert "<h1>Sign in</h1>" in _html(browser.get("/login"))
    assert browser.get("/language/fr").status_code == 404


def test_sign_in_page_follows_the_browser_language(browser):
    html = _html(browser.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}))
    assert "<h1>登录</h1>" in html
    assert "<h1>Sign in</h1>" in _html(browser.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}))


def test_stored_language_wins_over_the_sign_in_page_choice(browser, make_user):
    make_user("tech1", language="en")
    browser.get("/language/zh_CN")
    assert "<h1>登录</h1>" in _html(browser.get("/login"))
    assert browser.login("tech1").status_code == 302
    html = _html(browser.get("/"))
    assert "Welcome, Tech1" in html and "欢迎" not in html


def test_form_error_is_shown_in_chinese(as_user):
    b = as_user("tech1", roles=["technician"], language="zh_CN")
    form = {
        "code": "EQ-TEST-01",
        "name": "",
        "kind": "centrifuge",
        "location": "GMP suite A",
        "serial_number": "S-1",
        "status": "in_service",
        "calibration_due": "",
        "notes": "",
    }
    r = b.post("/equipment/new", form)
    assert r.status_code == 400
    html = _html(r)
    assert '<div class="field-error">该字段是必填字段。</div>' in html  # WTForms' own zh catalogue
    assert "<h1>登记设备</h1>" in html and ">名称</label>" in html and ">设备编号</label>" in html
    assert "This field is required." not in html

    # A refusal from the operations layer comes from our catalogue.
    r = b.post("/equipment/new", dict(form, code="x", name="Centrifuge"))
    assert r.status_code == 422
    assert "设备编号须为3–40位大写字母、数字或短横线，例如 EQ-GFM-01。" in _html(r)


def test_form_error_is_shown_in_english_for_an_english_user(as_user):
    b = as_user("tech1", roles=["technician"], language="en")
    r = b.post("/equipment/new", {"code": "EQ-TEST-01", "name": "", "kind": "centrifuge", "status": "in_service"})
    assert r.status_code == 400
    assert '<div class="field-error">This field is required.</div>' in _html(r)


def test_error_page_is_in_chinese(as_user):
    b = as_user("tech1", roles=["technician"], language="zh_CN")
    r = b.get("/equipment/999999")
    assert r.status_code == 404
    html = _html(r)
    assert "未找到" in html and "设备不存在。" in html and ">返回<" in html


def test_profile_switches_the_stored_language_with_an_audit_row(app, as_user):
    b = as_user("tech1", roles=["technician"], language="en")
    assert "<h1>Your profile</h1>" in _html(b.get("/profile"))
    before = _user("tech1")

    r = b.post("/profile", {"language": "zh_CN"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/profile")
    html = _html(b.get("/profile"))
    assert "<h1>个人资料</h1>" in html and "语言设置已保存。" in html
    assert "欢迎，Tech1" in _html(b.get("/"))

    after = _user("tech1")
    assert after.language == "zh_CN" and after.version == before.version + 1
    rows = audit_rows(app, entity="app_user", record_id=str(after.id), field="language", action="update")
    assert len(rows) == 1
    row = rows[0]
    assert (row.action, row.old_value, row.new_value) == ("update", "en", "zh_CN")
    assert row.user_id == after.id and row.user_name == "Tech1"
    assert row.reason == "language preference changed by the user" and row.record_version == after.version

    # Saving the same language again changes nothing and writes no audit row.
    assert b.post("/profile", {"language": "zh_CN"}).status_code == 302
    assert len(audit_rows(app, entity="app_user", record_id=str(after.id), field="language", action="update")) == 1

    # Back to English: the next page is English again, and the change is on the trail.
    assert b.post("/profile", {"language": "en"}).status_code == 302
    assert "<h1>Your profile</h1>" in _html(b.get("/profile"))
    rows = audit_rows(app, entity="app_user", record_id=str(after.id), field="language", action="update")
    assert [(r.old_value, r.new_value) for r in rows] == [("en", "zh_CN"), ("zh_CN", "en")]


def test_unknown_language_is_refused_on_the_profile(as_user):
    b = as_user("tech1", roles=["technician"], language="en")
    r = b.post("/profile", {"language": "fr"})
    assert r.status_code == 200  # the form is shown again; nothing saved
    assert _user("tech1").language == "en"


def test_chinese_page_declares_its_language(as_user):
    b = as_user("qa1", roles=["qa"], language="zh_CN")
    assert '<html lang="zh-CN">' in _html(b.get("/"))
