from django.http import HttpRequest


def tenant(request: HttpRequest) -> dict:
    current = getattr(request, "tenant", None)
    return {"tenant": current, "is_public_site": current is None or current.is_public}
