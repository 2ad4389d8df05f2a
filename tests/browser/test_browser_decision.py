"""What a person sees in the deployment decision: their own choice first, the reading after."""

from axe import settle
from playwright.sync_api import expect
from script_run import one_run

from quantviz.decision.facts import builtin_weights_bytes

# Gemma 4 E2B at 8192 tokens in f16 as Ollama runs llama.cpp, by hand (tests/test_memory.py)
E2B_KV_8K = 3 * 8192 * 1024 * 2 + 12 * 1024 * 512 * 2
OVERHEAD = 1_000_000_000  # the documented default (docs/model-facts.md, "Runtime overhead")
BUDGET = 4_000_000_000  # the widget's default budget, 4.0 GB


def test_no_suggestion_before_the_students_own_choice(page, app_url):
    """On Objective 6 the student sees the figures and a choice to make, but no reading and no
    'Choose …' until they have picked a tag and written a reason; then the reading appears
    beside their choice and flags where the two differ (Q4 does not fit the default 4 GB once
    the 1 GB runtime overhead is counted)."""
    assert builtin_weights_bytes()["Q4"] + E2B_KV_8K + OVERHEAD > BUDGET  # the premise
    with page.expect_websocket() as opened:
        page.goto(f"{app_url}/lab2-objective6")
    socket = opened.value
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("Your decision first")
    settle(page)  # the page's first run is over
    expect(main).to_contain_text("once you have committed your choice")
    expect(main).not_to_contain_text("The widget's reading")
    expect(main).not_to_contain_text("Choose Q4")
    expect(main).not_to_contain_text("Neither fits")

    with one_run(socket):
        main.locator('[data-testid="stRadio"]').get_by_text("Q4", exact=True).click()
    reason = page.get_by_label("Your reason, from your own figures (one or two sentences)")
    reason.fill("Q4 is the smaller file and should fit my laptop.")
    with one_run(socket):
        reason.press("Control+Enter")
    expect(main).not_to_contain_text("The widget's reading")  # not before Commit
    page.get_by_role("button", name="Commit my choice").click()

    expect(main).to_contain_text("The widget's reading of the figures")
    expect(main).to_contain_text("Your reason: Q4 is the smaller file and should fit my laptop.")
    expect(main).to_contain_text("You chose Q4, but it does not fit 4.00 GB at 8k context")
    assert page.locator('[data-testid="stException"]').count() == 0
