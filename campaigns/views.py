from django.http import HttpRequest, HttpResponse

from accounts.decorators import role_required


@role_required()
def campaign_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("campaigns")
