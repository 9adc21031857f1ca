"""Evidence for appeals and reports (视频举证): signed upload links, an upload page served by
scripts/web.py, type-checked streaming storage with metadata in the SQL store, previews, and the
agent console's view of a case's files. Layer: above agents and core; imported by the actions (the offer).

    config.py    settings from environment variables (limits, directory, secret)
    links.py     the signed, expiring link that binds an upload to a conversation and its ticket
    storage.py   streaming to disk, type check, dedupe, metadata, crash recovery, retention purge
    media.py     images re-encoded without EXIF/GPS, thumbnails, video duration and poster (ffmpeg)
    messages.py  what the upload page and its API tell the user, in Chinese and English
    notify.py    "已收到 N 个文件" in the chat, through the agent console's API on the Rasa server
    http.py      the upload page's and the agent console's endpoints (Sanic handlers) for scripts/web.py;
                 an upload is written to disk as it arrives, a stalled client dropped
    offer.py     the "上传证据" button the actions add to their replies
"""
