"""Named domain errors. The web layer maps each to an HTTP status with its reason."""

from __future__ import annotations


class CommerceError(Exception):
    """Base class; `reason` is safe to show to a user."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidInput(CommerceError):
    status = 422


class NotFound(CommerceError):
    status = 404


class InsufficientStock(CommerceError):
    """Not enough available units of a SKU (quantity − allocated − live reservations)."""

    status = 409

    def __init__(self, sku: str, requested: int, available: int) -> None:
        super().__init__(f"库存不足：{sku} 需要 {requested}，可售 {available}")
        self.sku, self.requested, self.available = sku, requested, available


class InvalidTransition(CommerceError):
    """An order state change that the state machine does not allow."""

    status = 409

    def __init__(self, order_id: str, transition: str, status: str) -> None:
        super().__init__(f"订单 {order_id} 当前状态为 {status}，不能执行 {transition}")
        self.order_id, self.transition, self.current = order_id, transition, status


class PriceMismatch(CommerceError):
    status = 409


class CouponNotApplicable(CommerceError):
    status = 422


class PurchaseLimitExceeded(CommerceError):
    status = 409


class IdempotencyConflict(CommerceError):
    """The same Idempotency-Key was sent with a different request body."""

    status = 422


class BadSignature(CommerceError):
    status = 400


class PromotionError(CommerceError):
    status = 409


class Conflict(CommerceError):
    """The thing already exists (a SKU code, a batch id)."""

    status = 409


class ProductSoldOut(CommerceError):
    """The product has no stock left: it cannot be pinned for 讲解 (the web maps it to 409)."""

    def __init__(self, sku: str) -> None:
        super().__init__(f"商品 {sku} 已售罄，不能置顶讲解，请先补货")
        self.sku = sku


class TicketError(Exception):
    """Base of customer-service ticket errors; `reason` is safe to show. No HTTP status here:
    the web layer maps each one."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidTicket(TicketError):
    """A field of a ticket, a note or a list filter is missing, too long or not allowed."""


class TicketNotFound(TicketError):
    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"工单不存在：{ticket_id[:64]}")
        self.ticket_id = ticket_id


class TicketAlreadyClosed(TicketError):
    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"工单 {ticket_id} 已关闭")
        self.ticket_id = ticket_id


class AccountError(Exception):
    """Base of account, login, audit and backup errors; `reason` is safe to show. No HTTP
    status here: the web layer maps each one."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidAccount(AccountError):
    """A username, role, shop id, scope or token name is missing, too long or not allowed."""


class WeakPassword(InvalidAccount):
    """Too short, too long, too common, or built from the username."""


class UserExists(AccountError):
    def __init__(self, username: str) -> None:
        super().__init__(f"用户已存在：{username[:32]}")
        self.username = username


class UserNotFound(AccountError):
    def __init__(self, username: str) -> None:
        super().__init__(f"用户不存在：{username[:32]}")
        self.username = username


class BadCredentials(AccountError):
    """Unknown user, wrong password or disabled account: one message for all three."""

    def __init__(self) -> None:
        super().__init__("用户名或密码错误")


class LoginThrottled(AccountError):
    """Too many failed logins for this username or this address; `retry_after` in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"登录失败次数过多，请 {retry_after} 秒后再试")
        self.retry_after = retry_after


class ScopeNotAllowed(AccountError):
    """An API token scope above what the user's own role may grant."""


class InvalidAudit(AccountError):
    """A bad audit action name or list filter."""


class BackupError(AccountError):
    """A backup or restore that could not be made (tool missing, database unreachable)."""


class BadBackupFile(BackupError):
    """The file is missing, empty, not a Yunlian backup, or from a newer schema."""


class DatabaseInUse(BackupError):
    """A restore while a server holds the database, or a server start during a restore."""


class BackupRefused(BackupError):
    """A backup whose seal does not prove it came unchanged from this server."""
