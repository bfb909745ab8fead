"""Reading the CSV files members upload: the bytes decoded in the charset they declare.

Excel on Chinese Windows saves CSV in GBK (code page 936), and says so only if the sender
declares it (``Content-Type: text/csv; charset=gbk``, or the charset of a multipart file
part). Decoding such a file as UTF-8 with replacement characters turns every name into
garbage that matches nothing, and the member gets "none" for every row without knowing why.
So the declared charset is honoured (GB2312, GBK and CP936 are read as GB18030, which
contains them), a UTF-8 byte-order mark is accepted, and bytes the charset cannot decode
are refused with the charset tried and where it failed. The registry never guesses.
"""

from __future__ import annotations

import codecs

from werkzeug.datastructures import FileStorage

from api import problems

UTF8 = "utf-8"
# Every name of the Chinese national charsets: GB18030 is a superset of the others.
GB18030_ALIASES = frozenset({"gb18030", "gbk", "gb2312", "cp936", "ms936", "windows-936", "euc-cn"})

UNSUPPORTED_CHARSET = problems.register(
    "unsupported-charset",
    415,
    "Unsupported charset",
    "The body declares a charset the registry does not read. Send UTF-8 (a byte-order mark "
    "is accepted) or GB18030/GBK, and declare it: `text/csv; charset=gbk`.",
)
UNDECODABLE_CSV = problems.register(
    "csv-not-decodable",
    422,
    "CSV not decodable",
    "The CSV's bytes are not valid in the charset declared for it (UTF-8 when none is). "
    "`detail` names the charset tried and the first byte that failed; save the file as "
    "UTF-8 or declare its charset.",
)


class CsvDecodeError(ValueError):
    """The bytes cannot be read as CSV text; ``problem_type`` says which problem it is."""

    def __init__(self, problem_type: problems.ProblemType, detail: str) -> None:
        super().__init__(detail)
        self.problem_type = problem_type


def codec_for(declared: str | None) -> str:
    """The codec that reads a declared charset (UTF-8 when none is declared).

    :raises CsvDecodeError: a charset the registry does not read.
    """
    name = (declared or UTF8).strip().strip('"').lower()
    if name in GB18030_ALIASES:
        return "gb18030"
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        codec = ""
    if codec not in {"utf-8", "utf-8-sig"}:
        raise CsvDecodeError(
            UNSUPPORTED_CHARSET,
            f"charset {declared!r} is not read here: send UTF-8 or GB18030 (GBK)",
        )
    return UTF8


def decode_csv(data: bytes, declared: str | None) -> str:
    """The text of an uploaded CSV.

    :raises CsvDecodeError: an unknown charset, or bytes the charset cannot decode.
    """
    codec = codec_for(declared)
    if codec == UTF8 and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        shown = "GB18030 (GBK)" if codec == "gb18030" else "UTF-8"
        line = data.count(b"\n", 0, exc.start) + 1
        hint = " (declared)" if declared else " (none declared)"
        raise CsvDecodeError(
            UNDECODABLE_CSV,
            f"the CSV is not valid {shown}{hint}: line {line}, "
            f"byte 0x{data[exc.start]:02x} at offset {exc.start}; save it as UTF-8 or declare "
            "its charset, e.g. text/csv; charset=gbk",
        ) from None


def request_csv(mimetype_params: dict[str, str], body: bytes) -> str:
    """A ``text/csv`` request body, in the charset its Content-Type declares."""
    return decode_csv(body, mimetype_params.get("charset"))


def upload_csv(upload: FileStorage, form_charset: str | None = None) -> str:
    """A CSV file part of a multipart form: its own Content-Type's charset, else a
    ``charset`` form field, else UTF-8."""
    declared = upload.mimetype_params.get("charset") or form_charset or None
    return decode_csv(upload.read(), declared)
