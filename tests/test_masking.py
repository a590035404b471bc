"""Masked forms of personal values, as a passer-by at the counter may see them."""

from sync.masking import mask_id_number, mask_name, mask_phone, mask_text, mask_value


def test_id_number_keeps_prefecture_and_last_four() -> None:
    assert mask_id_number("440524199001012318") == "4405**********2318"
    assert mask_id_number("44052419900101231X") == "4405**********231X"


def test_mobile_keeps_carrier_and_last_four() -> None:
    assert mask_phone("13912345678") == "139****5678"


def test_landline_keeps_area_code() -> None:
    assert mask_phone("0754-88123456") == "0754-****3456"


def test_names_and_other_text() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_text("汕头市潮阳区和平镇里美村") == "汕头******"


def test_by_rule() -> None:
    assert mask_value("credit_code", "91440500MA4UXXXX1A") == "9144**********XX1A"
    assert mask_value("phone", "13912345678") == "139****5678"
    assert mask_value(None, "张三", is_name=True) == "张*"
    assert mask_value(None, "张三", is_name=True, names=False) == "张三"
    assert mask_value("id_number", None) == ""
    for whole in ("440524199001012318", "13912345678"):
        assert whole not in mask_value("id_number", whole) + mask_value("mobile", whole)
