"""The app's words, Chinese first: one catalogue, looked up by key in the current language.

Field, entity and code labels are not here: they come from the schema (label_zh/label_en),
so a bundle from county IT changes forms with no code change.
"""

from __future__ import annotations

LANGUAGES = ("zh", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    "app.title": ("乡镇工作站", "Township Station"),
    "unlock.title": ("解锁工作站", "Unlock the station"),
    "unlock.clerk": ("操作员", "Clerk"),
    "unlock.passphrase": ("口令", "Passphrase"),
    "unlock.button": ("解锁", "Unlock"),
    "unlock.working": ("正在核对口令……", "Checking the passphrase…"),
    "unlock.empty": ("请输入口令", "Type the passphrase"),
    "home.title": ("首页", "Home"),
    "home.base_data": ("基础数据", "Base data"),
    "home.incidents": ("事件", "Incidents"),
    "home.open": ("办理中", "Open"),
    "home.overdue": ("已超时", "Overdue"),
    "home.next_due": ("最近时限", "Next deadline"),
    "home.sync": ("同步", "Sync"),
    "home.enrolled": ("县级平台", "County hub"),
    "home.not_enrolled": ("未注册", "not enrolled"),
    "home.pending": ("待上传", "Pending"),
    "home.rejected": ("被拒绝", "Rejected"),
    "home.last_sync": ("上次同步", "Last sync"),
    "home.never": ("从未", "never"),
    "home.last_error": ("上次错误", "Last error"),
    "home.conflicts": ("待处理冲突", "Open conflicts"),
    "home.schema": ("数据版本", "Schema version"),
    "home.entity": ("类别", "Entity"),
    "home.count": ("数量", "Count"),
    "help.title": ("帮助：按键", "Help: keys"),
    "help.close": ("按 Esc 关闭", "Esc closes"),
    "key.help": ("帮助", "Help"),
    "key.language": ("English", "中文"),
    "key.lock": ("锁定", "Lock"),
    "key.refresh": ("刷新", "Refresh"),
    "key.quit": ("退出", "Quit"),
    "key.close": ("关闭", "Close"),
    "records.title": ("基础数据", "Base data"),
    "records.search": ("按身份证号、电话或姓名查找（回车）", "Find by ID number, phone or name (Enter)"),
    "records.page": ("第 {first}–{last} 条，共 {total} 条", "{first}–{last} of {total}"),
    "records.found": ("找到 {n} 条", "{n} found"),
    "records.empty": ("没有记录", "No records"),
    "records.deleted": ("已删除", "Deleted"),
    "records.confirm_delete": ("确定删除这条记录吗？删除会同步到县级平台。",
                               "Delete this record? The delete syncs to the county."),
    "form.add": ("新增{entity}", "New {entity}"),
    "form.edit": ("修改{entity}", "Edit {entity}"),
    "form.saved": ("已保存", "Saved"),
    "form.unchanged": ("没有修改", "Nothing changed"),
    "form.hint": ("Ctrl+S 保存 · Esc 返回", "Ctrl+S save · Esc back"),
    "form.fix": ("请按提示修改后再保存", "Fix the field shown, then save again"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "key.save": ("保存", "Save"),
    "key.add": ("新增", "Add"),
    "key.delete": ("删除", "Delete"),
    "key.search": ("查找", "Find"),
    "key.next": ("下一页", "Next page"),
    "key.previous": ("上一页", "Previous page"),
    "conflicts.title": ("待处理冲突", "Open conflicts"),
    "conflicts.none": ("没有待处理的冲突", "No open conflicts"),
    "conflicts.record": ("记录", "Record"),
    "conflicts.field": ("字段", "Field"),
    "conflicts.shown": ("当前显示", "Shown now"),
    "conflicts.other": ("另一方", "The other"),
    "conflicts.base": ("原值（双方修改前）", "Before (both started from)"),
    "conflicts.here": ("本站的值", "This station"),
    "conflicts.there": ("其他站点的值", "Elsewhere"),
    "conflicts.unknown": ("（不详）", "(not known)"),
    "conflicts.new": ("或输入新值后回车", "or type a new value and press Enter"),
    "conflicts.keep_local": ("保留本站", "Keep this station's"),
    "conflicts.keep_remote": ("保留对方", "Keep the other"),
    "conflicts.keep_deleted": ("保留删除", "Keep the delete"),
    "conflicts.keep_edited": ("保留修改（恢复记录）", "Keep the edit (restore)"),
    "conflicts.settled": ("已解决，将随同步通知各方", "Settled; the choice syncs everywhere"),
    "conflicts.deleted_field": ("（删除）", "(deleted)"),
    "conflicts.step": ("事件环节冲突：请在事件中继续推进", "A step clash: move the case on to settle it"),
    "sync.title": ("同步", "Sync"),
    "sync.now": ("立即同步", "Sync now"),
    "sync.schema": ("检查数据版本……", "Checking the schema…"),
    "sync.push": ("上传 {done}/{total} 条 · {kb} KB", "Sent {done}/{total} · {kb} KB"),
    "sync.pull": ("下载 {done} 条 · {kb} KB", "Received {done} · {kb} KB"),
    "sync.done": ("完成：上传 {pushed} 条，被拒 {rejected} 条，下载 {pulled} 条",
                  "Done: sent {pushed}, refused {rejected}, received {pulled}"),
    "sync.failed": ("同步未完成：{why}", "Sync stopped: {why}"),
    "sync.rejected": ("被拒绝的变更（回车修改记录，Ctrl+R 重发）",
                      "Refused changes (Enter fixes the record, Ctrl+R resends)"),
    "sync.resent": ("已重新排队，下次同步发送", "Queued again; the next sync sends it"),
    "sync.reason": ("原因", "Reason"),
    "cases.incident": ("事件", "Incidents"),
    "cases.dispute": ("矛盾纠纷", "Disputes"),
    "cases.step": ("环节", "Step"),
    "cases.due": ("时限", "Deadline"),
    "cases.closed": ("已办结", "Closed"),
    "cases.moves": ("可以进行的操作（按数字键）", "What can be done next (press the number)"),
    "cases.none": ("已办结，无需操作", "Closed: nothing to do"),
    "cases.timeline": ("经过", "Timeline"),
    "cases.reason": ("须填写说明", "a note is required"),
    "cases.moved": ("已转到“{step}”", "Moved to '{step}'"),
    "volunteers.title": ("志愿者（选中后回车即签到）", "Volunteers (Enter checks the one selected in)"),
    "volunteers.name": ("姓名", "Name"),
    "volunteers.today": ("今日", "Today"),
    "volunteers.points": ("本月积分", "Points this month"),
    "volunteers.rank": ("排名", "Rank"),
    "volunteers.checked_in": ("已签到", "Checked in"),
    "volunteers.again": ("今天已经签到过", "Already checked in today"),
    "duty.title": ("今日护校值守（i 签到 · o 签退）", "Guard duty today (i sign in · o sign out)"),
    "duty.post": ("岗位", "Post"),
    "duty.time": ("时间", "Time"),
    "duty.state": ("状态", "State"),
    "duty.in": ("已签到", "Signed in"),
    "duty.out": ("已签退", "Signed out"),
    "duty.none": ("未签到", "Not signed in"),
    "duty.signed": ("已记录", "Recorded"),
    "locked.idle": ("长时间无操作，已自动锁定", "Locked after being idle"),
    "seconds_left": ("剩余 {n} 秒", "{n} s left"),
    "seconds_over": ("超时 {n} 秒", "{n} s over"),
}


# Key descriptions as the bindings declare them (Chinese) and their English names.
KEY_NAMES: dict[str, str] = {
    "帮助": "Help", "English": "中文", "锁定": "Lock", "退出": "Quit", "关闭": "Close",
    "返回": "Back", "新增": "Add", "保存": "Save", "删除": "Delete", "查找": "Find",
    "下一页": "Next", "上一页": "Previous", "刷新": "Refresh", "是": "Yes", "否": "No",
    "基础数据": "Records", "事件": "Incidents", "纠纷": "Disputes", "志愿者": "Volunteers",
    "护校": "Guard duty", "冲突": "Conflicts", "同步": "Sync", "重发": "Resend",
    "保留本站": "Keep ours", "保留对方": "Keep theirs", "保留删除": "Keep delete",
    "保留修改": "Keep edit", "签到": "Sign in", "签退": "Sign out", "调解": "Mediate",
}

# Textual's own bindings (Tab, Ctrl+C in an input) are described in English.
BUILT_IN_KEY_NAMES: dict[str, str] = {
    "Focus Next": "下一项", "Focus Previous": "上一项", "Copy selected text": "复制选中文字",
}


def key_name(description: str, lang: str) -> str:
    """A key's description in `lang`: the declared one in Chinese ("English" on the language
    key reads "中文" once the app is in English)."""
    if lang == "en":
        return KEY_NAMES.get(description, description)
    return BUILT_IN_KEY_NAMES.get(description, description)


def text(key: str, lang: str, **values: object) -> str:
    """The message `key` in `lang` ('zh' or 'en'), with `values` filled in."""
    zh, en = MESSAGES[key]
    return (zh if lang == "zh" else en).format(**values)
