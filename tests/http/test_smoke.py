def test_login_and_home(as_user):
    b = as_user("tech1", roles=["technician"])
    r = b.get("/")
    assert r.status_code == 200
    assert "Welcome, Tech1" in r.get_data(as_text=True)
