"""The `flet build` configuration holds together: [tool.flet] in pyproject.toml, the entry module it
names (main.py), the icon, build/stage.py and build/README.md.

`flet build` needs the internet (Flutter SDK, JDK, Android SDK) and cannot run here, so these
checks read what flet-cli 1.0.5 reads, the way it reads it (flet_cli/commands/build_base.py:
validate_entry_point, setup_template_data, package_python_app; serious_python's package command
for how pip sees an Android build).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import struct
import tomllib
import zlib
from pathlib import Path
from types import ModuleType

import flet
import flet.version
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
FLET = PYPROJECT["tool"]["flet"]
README = (ROOT / "build" / "README.md").read_text(encoding="utf-8")
BUILT_PLATFORMS = ("android", "linux", "windows", "macos")
# What pip evaluates markers against in an Android build: serious_python's sitecustomize fakes
# platform.system() only, so sys_platform is the build host's.
ANDROID_BUILD_HOSTS = [
    {"platform_system": "Android", "sys_platform": host} for host in ("linux", "darwin", "win32")
]
DESKTOP_ONLY = {"keyring": "keyring", "flet-desktop": "flet_desktop", "flet-web": "flet_web"}

# The [tool.flet] keys flet-cli 1.0.5 reads (build_base.py / build.py, and the build template for
# manifest_application), per table. A key outside these is silently ignored by flet build.
SHARED_KEYS = {
    "org", "bundle_id", "artifact", "icon_background", "target_arch", "source_packages",
    "dev_packages", "app", "splash", "boot_screen", "compile", "cleanup", "flutter",
    "deep_linking",
}  # fmt: skip
KNOWN_KEYS = {
    "": SHARED_KEYS | {
        "product", "company", "copyright", "build_number", "permissions", "template",
        "swift_package_manager", "web", *BUILT_PLATFORMS, "ios",
    },
    "app": {"path", "module", "exclude", "include", "default_excludes", "hide_window_on_start"},
    "splash": {"color", "dark_color", "android", "ios", "web"},
    "cleanup": {"app", "packages", "app_files", "package_files"},
    "android": SHARED_KEYS | {
        "dependencies", "split_per_abi", "legacy_packaging", "extract_packages", "permission",
        "feature", "meta_data", "provider", "manifest_application", "gradle_properties",
        "proguard_rules", "proguard_default_rules", "signing", "adaptive_icon_background",
    },
    "linux": SHARED_KEYS | {"dependencies", "categories"},
    "windows": SHARED_KEYS | {"dependencies"},
    "macos": SHARED_KEYS | {"dependencies", "icon_style", "info", "entitlement", "signing"},
}  # fmt: skip


def app_path() -> Path:
    return ROOT / FLET.get("app", {}).get("path", ".")


def entry_file(root: Path | None = None) -> Path:
    """Where flet-cli looks for the entry module: <app path>/<stem of module, default main>.py,
    in the staged copy; in the repository it is kept in build/ (build/stage.py moves it up)."""
    stem = Path(FLET.get("app", {}).get("module") or "main").stem
    return (root or ROOT / "build") / f"{stem}.py"


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def entry(monkeypatch) -> ModuleType:
    """The entry module, imported; importing it must not start the app."""

    def refuse(*args, **kwargs):
        raise AssertionError("importing the entry module must not call ft.run")

    monkeypatch.setattr(flet, "run", refuse)
    return load(entry_file(), "qoltanba_flet_entry")


def requirements(platform: str) -> list[Requirement]:
    """What flet build hands pip for `platform`: [project] dependencies + the platform's own."""
    extra = FLET.get(platform, {}).get("dependencies", [])
    return [Requirement(spec) for spec in [*PROJECT["dependencies"], *extra]]


def png_pixels(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """(width, height, colour type, rows) of an 8-bit non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    pos, header, idat = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0, (depth, interlace)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    stride = width * channels
    raw = zlib.decompress(idat)
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride if kind else 0):  # filter 0 (None) leaves the row as it is
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, colour, rows


# --- [tool.flet] itself ---------------------------------------------------------------------


def test_every_tool_flet_key_is_one_flet_build_reads():
    tables = {"": FLET, **{name: FLET.get(name, {}) for name in KNOWN_KEYS if name}}
    for table, known in KNOWN_KEYS.items():
        unknown = set(tables[table]) - known
        assert not unknown, (
            f"[tool.flet{'.' + table if table else ''}] keys flet-cli ignores: {unknown}"
        )
    for table in ("android", "linux", "windows", "macos"):
        for nested in ("app", "cleanup", "splash"):
            if nested in FLET.get(table, {}):
                assert set(FLET[table][nested]) <= KNOWN_KEYS[nested], (table, nested)


def test_names_and_version_come_from_project():
    name = PROJECT["name"]
    # flet-cli's project name: slugify(project.name) with "-" -> "_"; the bundle id ends with it
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-").replace("-", "_")
    assert FLET["bundle_id"] == f"{FLET['org']}.{slug}"
    assert FLET["product"].casefold() == name.casefold()
    assert re.fullmatch(r"\d+\.\d+\.\d+", PROJECT["version"]), "flutter --build-name wants x.y.z"
    assert isinstance(FLET["build_number"], int) and FLET["build_number"] >= 1
    assert "project" not in FLET and "version" not in FLET, "name and version are [project]'s"


def test_the_entry_module_is_in_the_app_and_calls_ft_run(tmp_path):
    staged = load(ROOT / "build" / "stage.py", "qoltanba_stage").stage(tmp_path / "app")
    root = staged / FLET.get("app", {}).get("path", ".")
    assert entry_file(root).is_file(), "flet build looks for the entry module at the top"
    path = entry_file()
    assert path.is_file(), path
    excluded = set(FLET.get("app", {}).get("exclude", []))
    for needed in ("wizard", "assets", path.name):
        assert (root / needed).exists() and needed not in excluded, needed

    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    guards = [
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and "__name__" in ast.unparse(node.test)
        and "__main__" in ast.unparse(node.test)
    ]
    assert guards, "flet build runs the module as __main__: it needs an `if __name__ == ...` block"
    runs = [
        call
        for guard in guards
        for call in ast.walk(guard)
        if isinstance(call, ast.Call) and ast.unparse(call.func) in ("ft.run", "flet.run")
    ]
    assert len(runs) == 1, "the __main__ block must call ft.run once"
    target = runs[0].args[0] if runs[0].args else runs[0].keywords[0].value
    assert isinstance(target, ast.Name) and target.id in functions, ast.unparse(target)
    handler = functions[target.id]
    assert len(handler.args.args) == 1, "ft.run calls the handler with the page"


def test_the_entry_module_imports_and_exposes_the_page_handler(entry):
    assert callable(entry.main)
    assert entry.main.__code__.co_argcount == 1


def test_on_a_phone_state_and_secrets_stay_on_the_device(entry, tmp_path):
    env = {"FLET_PLATFORM": "android", "FLET_APP_STORAGE_DATA": str(tmp_path)}
    assert entry.on_mobile(env)
    services = entry.device_services(env)
    assert services.home == tmp_path / "qoltanba"
    assert services.keys_root is not None and services.keys_root.is_relative_to(services.home)
    assert type(services.secrets).__name__ == "FletSecrets"  # Flet secure storage: the Keystore
    assert services.authority == "demo"


def test_on_the_desktop_state_and_secrets_are_the_commands(entry, tmp_path, monkeypatch):
    import wizard.ui.secrets

    keyring = object()
    monkeypatch.setattr(wizard.ui.secrets, "desktop_secret_store", lambda: keyring)
    monkeypatch.setenv("QOLTANBA_HOME", str(tmp_path / "home"))
    for platform in ("linux", "windows", "macos"):
        env = {"FLET_PLATFORM": platform, "FLET_APP_STORAGE_DATA": str(tmp_path / "flet")}
        assert not entry.on_mobile(env)
        services = entry.device_services(env)
        assert services.home == tmp_path / "home", "the same home as the `qoltanba` command"
        assert services.secrets is keyring
        assert services.keys_root is None


# --- the icon ------------------------------------------------------------------------------


def test_the_icon_is_a_1024_square_transparent_glyph():
    icon = app_path() / "assets" / "icon.png"
    assert icon.is_file(), "flet build takes the app icon and splash from assets/icon.png"
    width, height, colour, rows = png_pixels(icon.read_bytes())
    assert (width, height) == (1024, 1024), "iOS and macOS want at least 1024x1024, square"
    assert colour == 6, "RGBA: flet-cli frames a transparent icon per platform"
    alpha = lambda x, y: rows[y][x * 4 + 3]  # noqa: E731
    assert alpha(0, 0) == alpha(1023, 0) == alpha(0, 1023) == alpha(1023, 1023) == 0
    assert alpha(512, 512) == 255
    assert re.fullmatch(r"#[0-9A-Fa-f]{6}", FLET["icon_background"])


# --- dependencies --------------------------------------------------------------------------


def test_the_android_app_gets_secure_storage_and_not_the_desktop_packages():
    cleanup = FLET["android"].get("cleanup", {}).get("package_files", [])
    for environment in ANDROID_BUILD_HOSTS:
        installed = {
            req.name
            for req in requirements("android")
            if req.marker is None or req.marker.evaluate(environment)
        }
        # its Flutter half is compiled in only when the wheel is among the app's packages
        assert "flet-secure-storage" in installed, environment
        for name, module in DESKTOP_ONLY.items():
            assert name not in installed or module in cleanup, (
                f"{name} would ship in the APK (pip sees {environment}): use a platform_system "
                f"marker in [project] or list {module} in [tool.flet.android.cleanup]"
            )
    crypto = next(req for req in requirements("android") if req.name == "cryptography")
    assert "48.0.0" in crypto.specifier, "Flet's mobile index has cryptography 48.0.0 for 3.14"


def test_the_bundled_flet_is_the_flet_cli_release():
    version = flet.version.flet_version
    for platform in BUILT_PLATFORMS:
        pins = [
            req
            for req in requirements(platform)
            if req.name == "flet" and "==" in str(req.specifier)
        ]
        assert [str(req.specifier) for req in pins] == [f"=={version}"], platform
    flet_range = next(
        Requirement(d).specifier for d in PROJECT["dependencies"] if d.startswith("flet>")
    )
    assert version in SpecifierSet(str(flet_range))
    assert f'"flet-cli=={version}"' in README
    assert f"Flutter {flet.version.flutter_version}" in README
    assert f"~/flutter/{flet.version.flutter_version}" in README


def test_android_asks_for_no_storage_permission_and_no_backup():
    permissions = FLET["android"]["permission"]
    assert permissions.get("android.permission.INTERNET") is True
    granted = {name for name, value in permissions.items() if value is not False}
    assert not {name for name in granted if "STORAGE" in name}, granted
    assert FLET["android"]["manifest_application"]["allowBackup"] == "false"


# --- staging and the README ----------------------------------------------------------------


def test_stage_copies_exactly_the_app_and_keeps_flets_work(tmp_path):
    stage = load(ROOT / "build" / "stage.py", "qoltanba_build_stage")
    assert stage.DEST == ROOT / "build" / "flet" / "app"
    assert "build/flet/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()

    dest = tmp_path / "app"
    (dest / "build").mkdir(parents=True)
    (dest / "build" / "kept").write_text("flet's cache", encoding="utf-8")
    (dest / "stray.txt").write_text("left from an older copy", encoding="utf-8")
    assert stage.stage(dest) == dest.resolve()

    assert entry_file(dest).is_file()
    for needed in ("pyproject.toml", "wizard/ui/app.py", "wizard/locales", "assets/icon.png"):
        assert (dest / needed).exists(), needed
    assert (dest / "build" / "kept").is_file()
    assert not (dest / "stray.txt").exists()
    assert not (dest / "tests").exists()
    assert not [p for p in dest.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    with pytest.raises(ValueError):
        stage.stage(ROOT)


def test_the_readme_gives_a_command_and_an_output_for_each_build():
    name, app = PROJECT["name"], "build/flet/app"
    assert "python3 build/stage.py" in README
    for target in ("apk", "aab", "linux", "macos"):
        assert f"flet build {target} {app} --python-version 3.14" in README, target
    assert "flet build windows build\\flet\\app --python-version 3.14" in README
    for output in (
        f"{app}/build/apk/{name}.apk",
        f"{app}/build/aab/{name}.aab",
        f"{app}/build/linux/",
        "build\\flet\\app\\build\\windows\\",
        f"{app}/build/macos/{FLET['macos']['artifact']}.app",
        f"adb install -r {app}/build/apk/{name}.apk",
    ):
        assert output in README, output
