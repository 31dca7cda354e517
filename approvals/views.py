from django.http import HttpRequest, HttpResponse


def queue(request: HttpRequest) -> HttpResponse:  # placeholder, replaced below
    return HttpResponse("")


def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse("")
