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
    "locked.idle": ("长时间无操作，已自动锁定", "Locked after being idle"),
    "seconds_left": ("剩余 {n} 秒", "{n} s left"),
    "seconds_over": ("超时 {n} 秒", "{n} s over"),
}


def text(key: str, lang: str, **values: object) -> str:
    """The message `key` in `lang` ('zh' or 'en'), with `values` filled in."""
    zh, en = MESSAGES[key]
    return (zh if lang == "zh" else en).format(**values)
