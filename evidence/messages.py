"""What the upload page and its API say to the user, in the page's language (?lang=zh|en)."""

from __future__ import annotations

from typing import Any

MESSAGES = {
    "zh": {
        "link_invalid": "上传链接无效。请回到对话中，点“上传证据”重新打开。",
        "link_expired": "上传链接已过期。请回到对话中重新获取上传链接。",
        "link_other_case": "这个链接不属于这张工单，不能用来上传。",
        "no_ticket": "找不到这张工单，无法上传。",
        "empty": "“{name}”是空文件（0 字节），没有保存。",
        "too_large": "“{name}”超过单个文件 {limit} 的上限，没有保存。",
        "case_full": "本工单的证据总量已达上限（{limit}），“{name}”没有保存。",
        "too_many": "每张工单最多 {limit} 个文件，“{name}”没有保存。",
        "bad_type": "“{name}”不是支持的格式，没有保存。只接受 PNG、JPEG、WebP 图片和 MP4、WebM、MOV 视频。",
        "bad_name": "文件名不能包含路径或控制字符，请改名后再上传。",
        "truncated": "“{name}”没有传完（连接中断），没有保存，请重新上传。",
        "length_required": "上传请求缺少文件大小，没有保存，请用上传页面上传。",
        "damaged_image": "“{name}”无法作为图片打开（文件可能已损坏），没有保存。",
        "damaged_video": "“{name}”无法作为视频打开（文件可能已损坏），没有保存。",
        "duplicate": "“{name}”已经上传过，不会重复保存。",
        "stored": "已收到“{name}”。",
        "no_preview": "无预览：服务器未安装 ffmpeg",
        "server_error": "保存失败，请稍后再试。",
        "notified": "已通知对话：共收到 {count} 个新文件。",
        "notify_failed": "文件已保存，但暂时没能通知对话，客服仍能看到这些文件。",
    },
    "en": {
        "link_invalid": "This upload link is not valid. "
        "Go back to the chat and open “Upload evidence” again.",
        "link_expired": "This upload link has expired. Go back to the chat for a new one.",
        "link_other_case": "This link belongs to another ticket and cannot be used here.",
        "no_ticket": "This ticket does not exist, so nothing can be uploaded.",
        "empty": "“{name}” is empty (0 bytes) and was not saved.",
        "too_large": "“{name}” is over the {limit} limit per file and was not saved.",
        "case_full": "This ticket's evidence has reached its {limit} limit; “{name}” was not saved.",
        "too_many": "A ticket takes at most {limit} files; “{name}” was not saved.",
        "bad_type": "“{name}” is not a supported format and was not saved. "
        "Only PNG, JPEG and WebP pictures and MP4, WebM and MOV videos are accepted.",
        "bad_name": "A file name cannot contain a path or control characters; rename the file and try again.",
        "truncated": "“{name}” did not arrive completely (the connection dropped) and was not saved; "
        "please upload it again.",
        "length_required": "The upload did not say its size and was not saved; please use the upload page.",
        "damaged_image": "“{name}” cannot be opened as a picture (it may be damaged) and was not saved.",
        "damaged_video": "“{name}” cannot be opened as a video (it may be damaged) and was not saved.",
        "duplicate": "“{name}” was already uploaded; it is not stored twice.",
        "stored": "Received “{name}”.",
        "no_preview": "No preview: ffmpeg is not installed on the server",
        "server_error": "Saving failed; please try again later.",
        "notified": "The chat has been told: {count} new file(s) received.",
        "notify_failed": "The files are saved, but the chat could not be told right now; "
        "agents can still see them.",
    },
}


def language_of(value: Any) -> str:
    return "en" if value == "en" else "zh"


def text(code: str, language: str, **params: Any) -> str:
    return MESSAGES[language_of(language)][code].format(**params)


def size_label(size: int) -> str:
    """50 MB, 0.5 MB: the limits as the user reads them."""
    megabytes = size / (1024 * 1024)
    return f"{megabytes:g} MB" if megabytes >= 0.1 else f"{size // 1024} KB"
