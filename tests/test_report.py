"""The HTML report: built from a real executed notebook, then opened in headless Chromium (offline, file://)."""
import os
import re
import shutil
from pathlib import Path

import pytest

from helpers.paths import figures_dir, results_dir, runs_dir
from helpers.report import build_report

PROFILE = "pytest-report"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
HEADING = "Tiny report notebook"


def _clean():
    for folder in (runs_dir(PROFILE), figures_dir(PROFILE), results_dir(PROFILE)):
        shutil.rmtree(folder, ignore_errors=True)


def _executed_notebook() -> Path:
    """A markdown heading and a matplotlib plot, executed for real with nbclient."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(f"# {HEADING}\nA line of text."),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"),
    ])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    path = runs_dir(PROFILE) / "06_rca_eval__fp32.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    shutil.copy(path, runs_dir(PROFILE) / "01_data.ipynb")
    return path


@pytest.fixture(scope="module")
def index():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.figures import save_figure
    from helpers.atomic import write_atomic

    _clean()
    _executed_notebook()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(["fp32", "nf4"], [8.4, 10.9])
    save_figure(fig, PROFILE, "energy_by_variant")
    plt.close(fig)
    write_atomic(results_dir(PROFILE) / "summary.csv",
                 'variant,Wh per 1000 tickets,energy method\nfp32,8.45,"codecarbon 3.3.2, modelled"\n')
    yield build_report(PROFILE)
    _clean()


def test_files(index):
    folder = index.parent
    text = index.read_text()
    pages = re.findall(r'<a href="([^"]+\.html)"', text)
    assert pages == ["01_data.html", "06_rca_eval__fp32.html"]  # pipeline order
    assert all((folder / p).is_file() for p in pages)
    assert (folder / "figures" / "energy_by_variant.png").is_file()
    assert 'src="figures/energy_by_variant.png"' in text
    assert "modelled on CPU" in text and "<td>8.45</td>" in text
    for page in [index, *folder.glob("*.html")]:
        assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', page.read_text()), page.name
    assert "data:image/png;base64," in (folder / pages[1]).read_text()


@pytest.fixture(scope="module")
def browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        why = f"{' and '.join(missing)} missing: run `make browser` (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(why)  # CI must never skip the browser check silently
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))  # explicit: no Selenium Manager
    yield driver
    driver.quit()


def _images(driver) -> list:
    return driver.execute_script(
        "return Array.from(document.images, i => [i.currentSrc.slice(0, 60), i.complete && i.naturalWidth > 0]);")


def _remote_requests(driver) -> list:
    return driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => /^https?:/.test(n));")


def test_in_browser(index, browser):
    from selenium.webdriver.common.by import By

    browser.get(index.as_uri())
    assert browser.title == f"Study report: {PROFILE}"
    images = _images(browser)
    assert images and all(ok for _, ok in images), images
    links = browser.find_elements(By.CSS_SELECTOR, "#notebooks a")
    assert [a.text for a in links] == ["01_data", "06_rca_eval__fp32"]
    assert "modelled on CPU" in browser.find_element(By.CSS_SELECTOR, ".note").text
    assert _remote_requests(browser) == []

    links[1].click()
    assert browser.current_url.endswith("06_rca_eval__fp32.html")
    assert HEADING in browser.find_element(By.TAG_NAME, "h1").text
    outputs = _images(browser)
    assert outputs and all(ok for _, ok in outputs), outputs
    assert _remote_requests(browser) == []
