"""The audit trail of the county platform: who did what on the dashboard or with the `county`
commands that change the hub, from where, to what, and how it ended. Pure: the row and its
words; the table is in the hub's storage (`audit`, storage step 4) and `sync.hub.access`
writes it.

What a row never holds: a password, a token, or anything of a resident. A failed login for a
name that is no account is kept without the name (it might be a password typed into the
wrong box); the target of an action is a station id, a township or grid code, a schema
version, a table's name, an account name or record ids (a merge's).
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.hub.accounts import ROLES
from sync.hub.tables import when

# action -> (Chinese, English)
ACTIONS = {
    "login": ("登录", "log in"),
    "logout": ("退出", "log out"),
    "enroll": ("生成注册码", "enrollment code"),
    "revoke": ("吊销站点", "revoke station"),
    "revoke_wipe": ("吊销站点并销毁其密钥", "revoke station and wipe its keys"),
    "replace": ("生成换机注册码", "replacement enrollment code"),
    "grids": ("调整站点网格", "change station grids"),
    "publish": ("发布数据版本", "publish schema"),
    "preview": ("预览数据包", "preview bundle"),
    "export": ("导出", "export"),
    "audit": ("查看审计", "view audit"),
    "user_add": ("添加账号", "add account"),
    "user_remove": ("删除账号", "remove account"),
    "user_passwd": ("修改密码", "change password"),
    "seed": ("制作初始数据", "write a first-sync seed"),
    "import_changes": ("导入站点变更文件", "import a station's changes file"),
    "merge": ("合并重复登记", "merge duplicates"),
}
OUTCOMES = {
    "ok": ("成功", "ok"),
    "failed": ("失败", "failed"),
    "locked": ("已锁定", "locked"),
    "forbidden": ("无权限", "forbidden"),
    "refused": ("被拒绝", "refused"),
}
CLI_ADDRESS = "cli"  # an action from the command line on the hub's own machine


@dataclass(frozen=True)
class Actor:
    """Who acts: a dashboard account with its role and address, or the command line."""

    account: str
    role: str
    address: str

    @staticmethod
    def command_line() -> Actor:
        """The system user running `county` (`os:NAME`, or `os:uid N` for a user that has no
        name, as in some containers)."""
        import getpass
        import os

        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = f"uid {os.getuid()}"
        return Actor(f"os:{user}", "", CLI_ADDRESS)


@dataclass(frozen=True)
class Entry:
    """One audit row. `at` is UTC (ISO 8601); the page shows it in Beijing time."""

    at: str
    account: str  # the dashboard account, `os:USER` from the command line, "" when unknown
    role: str  # admin | viewer | "" (no session, or the command line)
    address: str  # the client's address, or CLI_ADDRESS
    action: str  # a key of ACTIONS
    target: str = ""
    outcome: str = "ok"  # a key of OUTCOMES

    def shown(self) -> dict[str, str | tuple[str, str]]:
        """The row as the audit page shows it: Beijing time, words Chinese first."""
        return {"at": when(self.at), "account": self.account or "—",
                "role": ROLES.get(self.role, ("—", "")), "address": _address(self.address),
                "action": ACTIONS.get(self.action, (self.action, self.action)),
                "target": self.target or "—",
                "outcome": OUTCOMES.get(self.outcome, (self.outcome, self.outcome))}


def _address(address: str) -> tuple[str, str] | str:
    return ("命令行", "command line") if address == CLI_ADDRESS else (address or "—")
