"""AWS-style errors raised by request handling and turned into protocol error responses.

An AwsError carries what the wire needs: the error code, message, HTTP status and whether the
fault is the sender's. Handlers raise it; the server serializes it for the service's protocol.
"""


class AwsError(Exception):
    """An error the emulator answers with, as AWS would."""

    def __init__(self, code, message, status=400, sender=True):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender


def validation_error(message):
    return AwsError("ValidationError", message, 400)


def throttling():
    return AwsError("Throttling", "Rate exceeded", 400)


def coral_validation(messages):
    """The 'N validation error(s) detected: ...' message AWS Query services produce."""
    count = len(messages)
    plural = "s" if count != 1 else ""
    return validation_error(f"{count} validation error{plural} detected: " + "; ".join(messages))


_ERROR_CATALOGS = {}


def model_error(service_model, code, message):
    """An error whose HTTP status and fault side come from the service model's error shapes."""
    key = service_model.service_name
    catalog = _ERROR_CATALOGS.get(key)
    if catalog is None:
        catalog = {}
        for shape in service_model.error_shapes:
            meta = shape.metadata.get("error", {})
            catalog[meta.get("code", shape.name)] = (meta.get("httpStatusCode", 400),
                                                     bool(meta.get("senderFault", False)))
        _ERROR_CATALOGS[key] = catalog
    status, sender = catalog.get(code, (400, True))
    return AwsError(code, message, status, sender)
