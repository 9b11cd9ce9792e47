import traceback

import pytest

from mite.exceptions import DataPoolExhausted, MiteError


def test_mite_error_str_is_the_message():
    assert str(MiteError("login failed", status=500)) == "login failed"


def test_mite_error_keeps_keyword_arguments_as_fields():
    error = MiteError("login failed", status=500, user="alice")

    assert error.fields == {"status": 500, "user": "alice"}


def test_mite_error_without_keyword_arguments_has_empty_fields():
    assert MiteError("boom").fields == {}


def test_mite_error_is_an_exception():
    with pytest.raises(Exception, match="^boom$"):
        raise MiteError("boom")


def test_mite_error_lives_in_mite_exceptions():
    assert MiteError.__module__ == "mite.exceptions"


def test_mite_error_formats_with_its_module_qualified_name():
    # The "message" field of error messages is built this way.
    line = traceback.format_exception_only(MiteError, MiteError("test"))[-1].strip()

    assert line == "mite.exceptions.MiteError: test"


def test_mite_error_is_importable_from_the_top_level_package():
    import mite

    assert mite.MiteError is MiteError


def test_data_pool_exhausted_is_a_base_exception_but_not_an_exception():
    assert issubclass(DataPoolExhausted, BaseException)
    assert not issubclass(DataPoolExhausted, Exception)


def test_except_exception_does_not_catch_data_pool_exhausted():
    def journey_code():
        try:
            raise DataPoolExhausted()
        except Exception:
            return "caught"

    with pytest.raises(DataPoolExhausted):
        journey_code()
